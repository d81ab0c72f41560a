"""Reference results from scipy.ndimage for the processing unit tests.

stdin: JSON {"op", "shape": [nx, ny, nz], "input": path, "output": path, ...params}
The input is float32 (or uint8 masks) in x-fastest order, read as a (nz, ny, nx) array.
The output is written the same way (float32, or int32 labels).
"""
import json
import sys

import numpy as np
from scipy import ndimage

job = json.load(sys.stdin)
nx, ny, nz = job["shape"]
dtype = np.uint8 if job["op"] in ("label", "opening", "closing") else np.float32
a = np.fromfile(job["input"], dtype=dtype).reshape((nz, ny, nx))

if job["op"] == "gaussian":
    sx, sy, sz = job["sigma"]  # in voxels, per x, y, z
    out = ndimage.gaussian_filter(a, sigma=(sz, sy, sx), mode="reflect", truncate=4.0)
elif job["op"] == "median":
    out = ndimage.median_filter(a, size=2 * job["radius"] + 1, mode="reflect")
elif job["op"] == "map":
    # coordinates: (3, n) source x, y, z per target voxel, in target x-fastest order
    coords = np.fromfile(job["coords"], dtype=np.float64).reshape((3, -1))
    out = ndimage.map_coordinates(a, coords[::-1], order=job["order"], mode="constant", cval=0.0).astype(np.float32)
elif job["op"] == "label":
    out, n = ndimage.label(a)
    out = out.astype(np.int32)
elif job["op"] == "opening":
    out = ndimage.binary_opening(a).astype(np.uint8)
elif job["op"] == "closing":
    out = ndimage.binary_closing(a).astype(np.uint8)
else:
    raise SystemExit("unknown op " + job["op"])
np.ascontiguousarray(out).tofile(job["output"])
