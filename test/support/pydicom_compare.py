#!/usr/bin/python3
"""
Independent check of a STOW-RS -> WADO-RS round trip, with pydicom (Debian python3-pydicom).

Usage: /usr/bin/python3 pydicom_compare.py PAIRS_JSON

PAIRS_JSON holds a list of {"name", "original", "retrieved"}: the file that was sent and the
file the gateway gave back. Prints a JSON list of {"name", "mismatches": [...], "notes": [...],
"pixels": how the pixel data was compared, "uids": {keyword: [original, retrieved]}} on
stdout, one entry per pair, in order. An empty "mismatches" means the pair agrees. "pixels" is
one of "frames", "fragments", "pixel_array", "raw", "dcmconv", "none" (no pixel data) or ""
(not reached).

The gateway de-identifies on ingest (PS3.15 Annex E), so the retrieved file is not the file
that was sent. For each pair it checks:
  - what de-identification must not touch: SOPClassUID, Rows, Columns, NumberOfFrames, and
    the geometry and rescaling (ImagePositionPatient, ImageOrientationPatient, PixelSpacing,
    SliceThickness, RescaleSlope, RescaleIntercept), wherever the original has them, at any
    depth (functional groups included) outside private sequences;
  - what it must change: PatientIdentityRemoved is YES, and when the original has a Patient
    ID, the retrieved PatientID and PatientName differ from the original's;
  - the instance UIDs (StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID) are not checked
    here: they are returned in "uids" for the caller, which knows the site secret, to check
    against the gateway's keyed mapping;
  - the transfer syntax: an encapsulated original keeps its transfer syntax, a native one
    (implicit VR LE, explicit VR LE/BE, deflated) comes back as Explicit VR Little Endian;
  - the pixel data: encapsulated, the same frames, byte for byte (and the same fragments);
    native, the same pixel values (pixel_array), or, where pydicom cannot decode the
    pixels, the same raw bytes once byte order is accounted for.

Big endian originals with more than 16 bits allocated (pydicom's rtdose_expb*.dcm: 32-bit
pixels in an OW element) are compared with dcmtk's own conversion (dcmconv +te): pydicom
and dcmtk swap such data differently, and the gateway follows dcmtk.
"""
import json
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pydicom
from pydicom.encaps import decode_data_sequence, generate_pixel_data_frame
from pydicom.multival import MultiValue

warnings.simplefilter("ignore")

EXPLICIT_LE = "1.2.840.10008.1.2.1"
NATIVE = {"1.2.840.10008.1.2", EXPLICIT_LE, "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2"}
BIG_ENDIAN = "1.2.840.10008.1.2.2"
IDENTITY = ["SOPClassUID", "Rows", "Columns", "NumberOfFrames"]
INSTANCE_UIDS = ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"]
GEOMETRY = ["ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "RescaleSlope", "RescaleIntercept"]
PIXEL_TAGS = {0x7FE00010: "PixelData", 0x7FE00008: "FloatPixelData", 0x7FE00009: "DoubleFloatPixelData"}


def transfer_syntax(ds):
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    if ts:
        return str(ts)
    # No file meta information: what pydicom found while reading.
    if not ds.is_little_endian:
        return BIG_ENDIAN
    return "1.2.840.10008.1.2" if ds.is_implicit_VR else EXPLICIT_LE


def value_of(ds, keyword):
    v = ds.get(keyword)
    if v is None:
        return None
    if keyword in ("Rows", "Columns", "NumberOfFrames"):
        try:
            return int(v)
        except (TypeError, ValueError):
            return str(v).strip()
    return str(v).strip()


def uid_of(ds, keyword):
    v = ds.get(keyword)
    return None if v is None else str(v).replace("\0", " ").strip()


def text_of(value):
    """A value as text, multiple values joined with a backslash, numbers as they were written."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, MultiValue)):
        return "\\".join(text_of(v) for v in value)
    return str(value).strip()


def geometry(ds, prefix="", out=None):
    """
    Every GEOMETRY attribute of the data set, at any depth: {path: value as text}. Private
    sequences are left out: de-identification removes them (no Retain Safe Private).
    """
    out = {} if out is None else out
    for elem in ds:
        if elem.tag.is_private:
            continue
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value or []):
                geometry(item, f"{prefix}{elem.keyword or elem.tag}[{i}].", out)
        elif elem.keyword in GEOMETRY:
            try:
                out[prefix + elem.keyword] = text_of(elem.value)
            except Exception as e:  # a value pydicom cannot convert: compare the raw text
                out[prefix + elem.keyword] = f"unreadable ({type(e).__name__})"
    return out


def check_deidentified(orig, retr, mismatches):
    removed = text_of(retr.get("PatientIdentityRemoved"))
    if removed != "YES":
        mismatches.append(f"PatientIdentityRemoved is {removed!r}, expected 'YES'")
    original_id = text_of(orig.get("PatientID"))
    if original_id:
        if text_of(retr.get("PatientID")) == original_id:
            mismatches.append(f"PatientID {original_id!r} kept")
        original_name = text_of(orig.get("PatientName"))
        if text_of(retr.get("PatientName")) == original_name:
            mismatches.append(f"PatientName {original_name!r} kept")
    go, gr = geometry(orig), geometry(retr)
    changed = [k for k in sorted(set(go) | set(gr)) if go.get(k) != gr.get(k)]
    for k in changed[:5]:
        mismatches.append(f"{k}: {go.get(k)!r} vs {gr.get(k)!r}")
    if len(changed) > 5:
        mismatches.append(f"... and {len(changed) - 5} more geometry/rescale differences")


def frame_count(ds):
    try:
        return max(1, int(ds.get("NumberOfFrames") or 1))
    except (TypeError, ValueError):
        return 1


def pixel_elements(ds):
    return {name: ds[tag] for tag, name in PIXEL_TAGS.items() if tag in ds}


def raw_value(elem):
    v = elem.value
    return bytes(v) if v is not None else b""


def describe_difference(a, b):
    if len(a) != len(b):
        return f"lengths {len(a)} vs {len(b)}"
    diff = next(i for i in range(len(a)) if a[i] != b[i])
    return f"first difference at byte {diff} of {len(a)}"


def compare_encapsulated(orig, retr, mismatches, notes, how):
    po, pr = orig.PixelData, retr.PixelData
    fo, fr = decode_data_sequence(po)[1:], decode_data_sequence(pr)[1:]
    n = frame_count(orig)
    try:
        frames_o = list(generate_pixel_data_frame(po, n))
        frames_r = list(generate_pixel_data_frame(pr, n))
    except Exception as e:  # pydicom cannot split the fragments into frames: compare the fragments
        notes.append(f"frames not separable by pydicom ({e}); compared fragments")
        how.add("fragments")
        if fo != fr:
            mismatches.append(f"encapsulated fragments differ: {len(fo)} original vs {len(fr)} retrieved")
        return
    if len(frames_o) != len(frames_r):
        mismatches.append(f"encapsulated frame count {len(frames_o)} vs {len(frames_r)}")
        return
    how.add("frames")
    for i, (a, b) in enumerate(zip(frames_o, frames_r)):
        if a != b:
            mismatches.append(f"encapsulated frame {i + 1} differs: {describe_difference(a, b)}")
            return
    if fo != fr:
        notes.append(f"same frames, different fragmentation: {len(fo)} vs {len(fr)} fragments")


def dcmtk_little_endian(path):
    """dcmconv +te: dcmtk's own conversion of the original to Explicit VR Little Endian."""
    with tempfile.NamedTemporaryFile(suffix=".dcm", delete=False) as f:
        out = f.name
    try:
        subprocess.run(["dcmconv", "+te", path, out], check=True, capture_output=True)
        return pydicom.dcmread(out, force=True)
    finally:
        os.unlink(out)


def swapped_to_little_endian(orig, elem):
    """Raw big endian pixel bytes in little endian order, by the element's unit size."""
    data = raw_value(elem)
    if elem.VR == "OF":
        unit = 4
    elif elem.VR == "OD":
        unit = 8
    elif elem.VR == "OB":
        unit = 1
    else:  # OW (or an ambiguous VR): words of BitsAllocated, at least 16 bits
        unit = max(2, int(orig.get("BitsAllocated") or 16) // 8)
    if unit == 1:
        return data
    usable = len(data) - len(data) % unit
    return np.frombuffer(data[:usable], dtype=f">u{unit}").astype(f"<u{unit}").tobytes() + data[usable:]


def compare_native(path, orig, retr, orig_ts, mismatches, notes, how):
    po, pr = pixel_elements(orig), pixel_elements(retr)
    if set(po) != set(pr):
        mismatches.append(f"pixel data elements {sorted(po)} vs {sorted(pr)}")
        return
    if not po:
        how.add("none")
    for name in po:
        bits = int(orig.get("BitsAllocated") or 0)
        if orig_ts == BIG_ENDIAN and name == "PixelData" and bits > 16:
            # pydicom 2.3 and dcmtk disagree on how to swap >16-bit pixels in an OW element;
            # the gateway follows dcmtk, so dcmconv +te is the reference.
            ref = dcmtk_little_endian(path)
            a, b = raw_value(ref["PixelData"]), raw_value(pr[name])
            notes.append("big endian, >16 bits allocated: compared with dcmconv +te")
            how.add("dcmconv")
            if a != b:
                mismatches.append(f"{name} differs from dcmconv +te: {describe_difference(a, b)}")
            continue
        if name == "PixelData":
            try:
                a, b = orig.pixel_array, retr.pixel_array
            except Exception as e:
                notes.append(f"pixel_array unavailable ({type(e).__name__}: {e}); compared raw bytes")
            else:
                how.add("pixel_array")
                if a.shape != b.shape:
                    mismatches.append(f"pixel_array shape {a.shape} vs {b.shape}")
                elif not np.array_equal(a, b):
                    mismatches.append(f"pixel values differ ({int(np.count_nonzero(a != b))} of {a.size} samples)")
                continue
        a = swapped_to_little_endian(orig, po[name]) if orig_ts == BIG_ENDIAN else raw_value(po[name])
        b = raw_value(pr[name])
        how.add("raw")
        if a != b:
            mismatches.append(f"{name} raw bytes differ: {describe_difference(a, b)}")


def compare(pair):
    mismatches, notes, how, uids = [], [], set(), {}

    def result():
        return {"name": pair["name"], "mismatches": mismatches, "notes": notes, "pixels": "+".join(sorted(how)), "uids": uids}

    try:
        orig = pydicom.dcmread(pair["original"], force=True)
    except Exception as e:
        mismatches.append(f"pydicom cannot read the original: {e}")
        return result()
    try:
        retr = pydicom.dcmread(pair["retrieved"])  # no force: the gateway must write a proper PS3.10 file
    except Exception as e:
        mismatches.append(f"pydicom cannot read the retrieved file: {e}")
        return result()
    for kw in INSTANCE_UIDS:
        uids[kw] = [uid_of(orig, kw), uid_of(retr, kw)]
    for kw in IDENTITY:
        a, b = value_of(orig, kw), value_of(retr, kw)
        if a != b:
            mismatches.append(f"{kw}: {a!r} vs {b!r}")
    try:
        check_deidentified(orig, retr, mismatches)
    except Exception as e:
        mismatches.append(f"de-identification check failed: {type(e).__name__}: {e}")
    orig_ts, retr_ts = transfer_syntax(orig), transfer_syntax(retr)
    expected_ts = EXPLICIT_LE if orig_ts in NATIVE else orig_ts
    if retr_ts != expected_ts:
        mismatches.append(f"transfer syntax {retr_ts}, expected {expected_ts} (original {orig_ts})")
        return result()
    meta_uid = str(retr.file_meta.get("MediaStorageSOPInstanceUID", "")).strip()
    if meta_uid != str(retr.get("SOPInstanceUID", "")).strip():
        mismatches.append(f"retrieved MediaStorageSOPInstanceUID {meta_uid!r} differs from SOPInstanceUID")
    try:
        if orig_ts in NATIVE:
            compare_native(pair["original"], orig, retr, orig_ts, mismatches, notes, how)
        elif "PixelData" not in orig and "PixelData" not in retr:
            how.add("none")
        elif ("PixelData" in orig) != ("PixelData" in retr):
            mismatches.append("PixelData present in only one of the two files")
        else:
            compare_encapsulated(orig, retr, mismatches, notes, how)
    except Exception as e:
        mismatches.append(f"pixel comparison failed: {type(e).__name__}: {e}")
    return result()


def main():
    with open(sys.argv[1]) as f:
        pairs = json.load(f)
    json.dump([compare(p) for p in pairs], sys.stdout)


if __name__ == "__main__":
    main()
