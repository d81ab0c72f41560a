"""Reference rendering with numpy (PS3.3 C.11.2.1.2 linear window) to compare with the gateway's PNGs.

stdin: JSON [{"dicom": path, "png": path, "window": [center, width], null (colour), "mask" (binary) or "voi-lut" (the VOI LUT Sequence), "frame": n (1-based, optional)}]
stdout: JSON [{"max_difference": n, "shape_ok": bool}]
"""
import json
import sys

import numpy as np
import pydicom
from PIL import Image
from pydicom.pixel_data_handlers.util import apply_color_lut, apply_modality_lut, apply_voi_lut

out = []
for case in json.load(sys.stdin):
    ds = pydicom.dcmread(case["dicom"])
    png = np.asarray(Image.open(case["png"]))
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    pixels = ds.pixel_array[case.get("frame", 1) - 1] if frames > 1 else ds.pixel_array
    if ds.PhotometricInterpretation == "PALETTE COLOR":
        ref = apply_color_lut(pixels, ds).astype(np.int32)
        if int(ds.RedPaletteColorLookupTableDescriptor[2]) == 16:
            ref = ref >> 8
    elif case["window"] == "voi-lut":
        # pydicom's own VOI LUT, after its modality LUT, scaled from the LUT's bits to 8.
        bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        hu = np.round(apply_modality_lut(pixels, ds)).astype(np.int64)
        y = apply_voi_lut(hu, ds, prefer_lut=True).astype(np.float64)
        ref = np.floor(y * 255 / (2 ** bits - 1) + 0.5).astype(np.int32)
    elif case["window"] == "mask":
        ref = pixels.astype(np.int32) * 255  # a binary segment: 0 black, 1 white
    elif ds.SamplesPerPixel == 3:
        ref = pixels.astype(np.int32)
    else:
        x = pixels.astype(np.float64) * float(getattr(ds, "RescaleSlope", 1)) + float(getattr(ds, "RescaleIntercept", 0))
        c, w = case["window"]
        y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255
        y = np.where(x <= c - 0.5 - (w - 1) / 2, 0, np.where(x > c - 0.5 + (w - 1) / 2, 255, y))
        ref = np.floor(y + 0.5).astype(np.int32)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            ref = 255 - ref
    out.append({"shape_ok": png.shape == ref.shape, "max_difference": int(np.abs(png.astype(np.int32) - ref).max()) if png.shape == ref.shape else -1})
json.dump(out, sys.stdout)
