"""Compare the gateway's NIfTI volumes with Debian's native dcm2niix output, using nibabel.

Input (JSON on stdin): [{"case": name, "ours": [nii paths], "reference": [nii paths]}, ...]
Output (JSON on stdout): [{"case", "problems": [...], "matched": n}, ...]
Each of our volumes must match a reference volume with the same dimensions, an affine equal
within 1e-3 mm and identical voxel values after scaling (scl_slope/scl_inter applied).
With "quantised": true (a real-valued volume that went through 16-bit DICOM pixels), values
may differ by one quantum: the reference's value range / 65535.
"""
import json
import sys

import nibabel as nib
import numpy as np


def load(path):
    img = nib.load(path)
    return img.shape, img.affine, np.asarray(img.get_fdata(dtype=np.float64))


def main():
    cases = json.load(sys.stdin)
    out = []
    for case in cases:
        problems = []
        refs = [(p, *load(p)) for p in case["reference"]]
        if len(case["ours"]) != len(refs):
            problems.append(f"{len(case['ours'])} volumes from the gateway, {len(refs)} from dcm2niix")
        matched = 0
        for ours in case["ours"]:
            shape, affine, data = load(ours)
            candidates = [r for r in refs if r[1] == shape]
            if not candidates:
                problems.append(f"{ours}: shape {shape} matches no reference ({[r[1] for r in refs]})")
                continue
            # Volumes of one series can share a grid (echoes, maps): any with equal voxels will do.
            close = [r for r in candidates if np.abs(r[2] - affine).max() <= 1e-3]
            if not close:
                best = min(candidates, key=lambda r: np.abs(r[2] - affine).max())
                problems.append(f"{ours}: affine differs from {best[0]} by {float(np.abs(best[2] - affine).max()):.4f} mm")
                continue
            def equal(ref):
                if not case.get("quantised"):
                    return np.array_equal(ref, data)
                return float(np.abs(ref - data).max()) <= (float(ref.max()) - float(ref.min())) / 65535 + 1e-9

            if not any(equal(r[3]) for r in close):
                worst = min(float(np.abs(r[3] - data).max()) for r in close)
                problems.append(f"{ours}: voxels differ from every reference on its grid (smallest max difference {worst})")
                continue
            matched += 1
        out.append({"case": case["case"], "problems": problems, "matched": matched})
    json.dump(out, sys.stdout)


main()
