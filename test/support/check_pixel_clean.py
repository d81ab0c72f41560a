"""Independent check of burned-in pixel cleaning, with pydicom (and GDCM for compressed originals).

stdin: JSON [{"original", "stored", "regions": [{"x", "y", "width", "height"}]}] (paths)
stdout: JSON [{"frames", "region_pixels", "region_max", "outside_pixels", "outside_differences",
               "burned_in", "method_codes", "photometric"}]
region_max is the largest stored value inside the regions (0 when they are blanked);
outside_differences counts pixels outside the regions that differ from the original.
"""
import json
import sys
import warnings

import numpy as np
import pydicom
from pydicom.pixel_data_handlers import gdcm_handler, numpy_handler, rle_handler
from pydicom.pixel_data_handlers.util import convert_color_space

warnings.filterwarnings("ignore")
pydicom.config.pixel_data_handlers = [numpy_handler, rle_handler, gdcm_handler]


def frames_of(ds, as_rgb=False):
    arr = ds.pixel_array
    # A decoded YBR codestream is stored as RGB: compare the original in RGB then.
    if as_rgb and str(ds.PhotometricInterpretation).startswith("YBR_FULL"):
        arr = convert_color_space(arr, str(ds.PhotometricInterpretation), "RGB")
    n = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if n == 1:
        arr = arr[np.newaxis, ...]
    return arr


def check(case):
    original = pydicom.dcmread(case["original"])
    stored = pydicom.dcmread(case["stored"])
    to_rgb = str(stored.PhotometricInterpretation) == "RGB"
    a = frames_of(original, to_rgb).astype(np.int64)
    b = frames_of(stored).astype(np.int64)
    mask = np.zeros((int(stored.Rows), int(stored.Columns)), dtype=bool)
    for r in case["regions"]:
        mask[r["y"]:r["y"] + r["height"], r["x"]:r["x"] + r["width"]] = True
    inside = b[:, mask]
    outside_a = a[:, ~mask]
    outside_b = b[:, ~mask]
    differs = outside_a != outside_b
    if differs.ndim > 2:
        differs = differs.any(axis=-1)
    codes = [str(i.CodeValue) for i in getattr(stored, "DeidentificationMethodCodeSequence", [])]
    return {
        "frames": int(b.shape[0]),
        "region_pixels": int(mask.sum()),
        "region_max": int(inside.max()) if inside.size else None,
        "outside_pixels": int((~mask).sum()),
        "outside_differences": int(differs.sum()),
        "shape_equal": list(a.shape) == list(b.shape),
        "burned_in": str(getattr(stored, "BurnedInAnnotation", "")),
        "method_codes": codes,
        "photometric": str(stored.PhotometricInterpretation),
    }


json.dump([check(c) for c in json.load(sys.stdin)], sys.stdout)
