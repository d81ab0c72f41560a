"""Independent checks of processing results with pydicom and scipy.

stdin: JSON {"source": [files], "segs": {"bone": file, "otsu": file, "largest": file}, "resampled": [files]}
stdout: JSON report.
"""
import json
import sys

import numpy as np
import pydicom
from scipy import ndimage

job = json.load(sys.stdin)


def hu(ds):
    return ds.pixel_array.astype(np.float64) * float(getattr(ds, "RescaleSlope", 1)) + float(getattr(ds, "RescaleIntercept", 0))


def stack(files):
    slices = [pydicom.dcmread(f) for f in files]
    iop = np.array(slices[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    slices.sort(key=lambda d: float(np.dot(np.array(d.ImagePositionPatient, dtype=float), normal)))
    return slices, iop, normal


source, iop, normal = stack(job["source"])
by_uid = {d.SOPInstanceUID: i for i, d in enumerate(source)}
volume = np.stack([hu(d) for d in source])  # (slices, rows, cols)
bone = (volume >= 300) & (volume <= 3000)
labels, n = ndimage.label(bone)
sizes = ndimage.sum(bone, labels, range(1, n + 1))
largest = labels == (int(np.argmax(sizes)) + 1)


def seg_frames(path):
    seg = pydicom.dcmread(path)
    frames = seg.pixel_array.reshape((int(seg.NumberOfFrames), seg.Rows, seg.Columns))
    out = {}
    for i, fg in enumerate(seg.PerFrameFunctionalGroupsSequence):
        ref = fg.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        k = by_uid[ref]
        assert np.allclose(np.array(fg.PlanePositionSequence[0].ImagePositionPatient, dtype=float), np.array(source[k].ImagePositionPatient, dtype=float), atol=1e-3)
        out[k] = out.get(k, 0) | frames[i].astype(bool)
    return out


def compare(path, expected):
    got = seg_frames(path)
    frames_match = all(np.array_equal(got[k], expected[k]) for k in got)
    empty_slices_match = all(not expected[k].any() for k in range(len(source)) if k not in got)
    return {"frames_match": bool(frames_match), "empty_slices_match": bool(empty_slices_match)}


report = {}
if "bone" in job["segs"]:
    report["bone"] = compare(job["segs"]["bone"], bone)
if "largest" in job["segs"]:
    report["largest"] = compare(job["segs"]["largest"], largest)
if "model" in job["segs"]:
    # The test model marks voxels above 300.5 HU.
    report["model"] = compare(job["segs"]["model"], volume > 300.5)
if "otsu" in job["segs"]:
    otsu = seg_frames(job["segs"]["otsu"])
    report["otsu"] = {"voxels": int(sum(int(v.sum()) for v in otsu.values()))}


def corners(slices, iop):
    first, last = slices[0], slices[-1]
    rows, cols = first.Rows, first.Columns
    row_spacing, col_spacing = (float(x) for x in first.PixelSpacing)
    out = []
    for s in (first, last):
        values = hu(s)
        for r in (0, rows - 1):
            for c in (0, cols - 1):
                p = np.array(s.ImagePositionPatient, dtype=float) + c * col_spacing * iop[:3] + r * row_spacing * iop[3:]
                out.append((p, values[r, c]))
    return out


if not job.get("resampled"):
    json.dump(report, sys.stdout)
    sys.exit(0)
res, res_iop, res_normal = stack(job["resampled"])
positions = [np.array(d.ImagePositionPatient, dtype=float) for d in res]
pairs = [(float(np.linalg.norm(a[0] - b[0])), abs(a[1] - b[1])) for a in corners(res, res_iop) for b in corners(source, iop)]
closest = min(pairs, key=lambda p: p[0])
report["resampled"] = {
    "spacing": [round(float(x), 6) for x in res[0].PixelSpacing],
    "slice_step": float(np.dot(positions[1] - positions[0], res_normal)),
    "origin_distance_mm": closest[0],
    "origin_value_difference": float(closest[1]),
}
json.dump(report, sys.stdout)
