"""Independent reference for transcoded instances, decoded frames and rendered images.

The original compressed file is decoded by pydicom with GDCM (Debian python3-gdcm), a decoder
the gateway does not use; the gateway's outputs are read back with pydicom (native pixels).

stdin: JSON [{"original", "transcoded", "frame", "png"}] (paths; png may be null), or [{"original"}] to ask only whether GDCM decodes it
stdout: JSON [{"photometric", "pixels": max abs difference, "mean": mean abs difference,
               "frame_matches": bool, "rendered": max abs difference or null}]
"""
import json
import sys
import warnings

import numpy as np
import pydicom
from pydicom.pixel_data_handlers import gdcm_handler, numpy_handler, rle_handler
from pydicom.pixel_data_handlers.util import apply_color_lut, convert_color_space
from PIL import Image

warnings.filterwarnings("ignore")
pydicom.config.pixel_data_handlers = [numpy_handler, rle_handler, gdcm_handler]


def reference(path):
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array
    # GDCM hands JPEG YBR_FULL back as it is coded; compare in RGB, as the gateway sends it.
    if ds.SamplesPerPixel == 3 and str(ds.PhotometricInterpretation).startswith("YBR_FULL"):
        arr = convert_color_space(arr, "YBR_FULL", "RGB")
    return ds, arr


def decodable(path):
    """Whether GDCM decodes the file without reporting an error. GDCM may hand back a buffer
    after a codec error, so its own error report (on file descriptor 2) is what counts."""
    import os
    import tempfile
    with tempfile.TemporaryFile() as err:
        saved = os.dup(2)
        os.dup2(err.fileno(), 2)
        try:
            reference(path)
            failed = False
        except Exception:
            failed = True
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        err.seek(0)
        return not failed and b"Error" not in err.read()


def window(x, c, w, fn):
    if fn == "LINEAR_EXACT":
        y = ((x - c) / w + 0.5) * 255
        return np.where(x <= c - w / 2, 0, np.where(x > c + w / 2, 255, y))
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255
    return np.where(x <= c - 0.5 - (w - 1) / 2, 0, np.where(x > c - 0.5 + (w - 1) / 2, 255, y))


def rendered_reference(ds, first):
    """PS3.3 C.11: modality LUT, then the object's window or the frame's range."""
    if ds.SamplesPerPixel == 3:
        bits = int(ds.BitsStored)
        return np.floor(first.astype(np.float64) / 2 ** (bits - 8)).astype(np.int64) if bits > 8 else first.astype(np.int64)
    if ds.PhotometricInterpretation == "PALETTE COLOR":
        return apply_color_lut(first, ds).astype(np.int64) >> 8 if int(ds.RedPaletteColorLookupTableDescriptor[2]) == 16 else apply_color_lut(first, ds)
    x = first.astype(np.float64) * float(getattr(ds, "RescaleSlope", 1) or 1) + float(getattr(ds, "RescaleIntercept", 0) or 0)
    if "WindowCenter" in ds and "WindowWidth" in ds and float(np.atleast_1d(ds.WindowWidth)[0]) > 0:
        c, w = float(np.atleast_1d(ds.WindowCenter)[0]), float(np.atleast_1d(ds.WindowWidth)[0])
        y = window(x, c, w, "LINEAR")
    elif getattr(ds, "Modality", "") == "CT":
        y = window(x, 40.0, 400.0, "LINEAR")  # the soft-tissue preset for a CT without a window
    else:
        lo, hi = x.min(), x.max()
        y = window(x, (lo + hi) / 2, max(1.0, hi - lo), "LINEAR_EXACT")
    out = np.floor(y + 0.5).astype(np.int64)
    return 255 - out if ds.PhotometricInterpretation == "MONOCHROME1" else out


out = []
for case in json.load(sys.stdin):
    if "transcoded" not in case:
        out.append({"decodable": decodable(case["original"])})
        continue
    ds, ref = reference(case["original"])
    got_ds = pydicom.dcmread(case["transcoded"])
    got = got_ds.pixel_array
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    first_ref = ref[0] if frames > 1 else ref
    first_got = got[0] if frames > 1 else got
    diff = np.abs(got.astype(np.int64) - ref.astype(np.int64)) if got.shape == ref.shape else None
    raw = open(case["frame"], "rb").read()
    frame_matches = raw == np.ascontiguousarray(first_got).astype(first_got.dtype.newbyteorder("<")).tobytes()
    rendered = None
    if case.get("png"):
        png = np.asarray(Image.open(case["png"])).astype(np.int64)
        rr = rendered_reference(got_ds, first_got)
        rendered = int(np.abs(png - rr).max()) if png.shape == rr.shape else -1
    out.append({
        "decodable": True,
        "photometric": str(got_ds.PhotometricInterpretation),
        "transfer_syntax": str(got_ds.file_meta.TransferSyntaxUID),
        "pixels": int(diff.max()) if diff is not None else -1,
        "mean": float(diff.mean()) if diff is not None else -1.0,
        "frame_matches": bool(frame_matches),
        "rendered": rendered,
    })
json.dump(out, sys.stdout)
