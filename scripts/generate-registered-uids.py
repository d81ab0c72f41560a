#!/usr/bin/python3
"""Writes src/dicom/standard/registered-uids.json: the UIDs PS3.6 Table A-1 registers (SOP and
meta SOP classes, transfer syntaxes, well-known SOP instances and frames of reference, coding
schemes, LDAP OIDs ...), as {uid: type}, from pydicom's copy of the table (Debian
python3-pydicom). The gateway keeps a UID unmapped only if it is registered: a UID that merely
starts with the DICOM root is an instance UID like any other. SOP classes newer than pydicom's
copy come from src/dicom/standard/sop-classes.json at run time. Re-run after updating pydicom."""
import json
import os

from pydicom._uid_dict import UID_dictionary

target = os.path.join(os.path.dirname(__file__), '..', 'src', 'dicom', 'standard', 'registered-uids.json')
table = {uid: entry[1] for uid, entry in sorted(UID_dictionary.items())}
with open(target, 'w') as f:
    json.dump(table, f, separators=(',', ':'))
    f.write('\n')
print(f'{len(table)} registered UIDs written to {os.path.relpath(target)}')
