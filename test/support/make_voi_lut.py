"""Write a copy of a CT slice whose only VOI transform is a VOI LUT Sequence (no window).

argv: source, destination. The LUT (2048 entries from -1024 HU, 16-bit, a gamma curve) is one
a viewer could not guess from a window.
"""
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

ds = pydicom.dcmread(sys.argv[1])
for keyword in ("WindowCenter", "WindowWidth", "WindowCenterWidthExplanation", "VOILUTFunction"):
    if keyword in ds:
        delattr(ds, keyword)
item = Dataset()
item.add_new(0x00283002, "SS", [2048, -1024, 16])
curve = (np.linspace(0, 1, 2048) ** 0.5 * 65535).round().astype(np.uint16)
item.add_new(0x00283006, "OW", curve.tobytes())
item.LUTExplanation = "gamma 0.5"
ds.VOILUTSequence = Sequence([item])
# A new instance (and series), not a duplicate of the source slice.
ds.SOPInstanceUID = generate_uid()
ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
ds.SeriesInstanceUID = generate_uid()
ds.save_as(sys.argv[2])
