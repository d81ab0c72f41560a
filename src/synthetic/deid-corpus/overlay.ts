/**
 * An overlay plane (group 6000) whose description and label name the patient and whose
 * bitmap has the name drawn into it: text can be searched for, the bitmap cannot, so the
 * key asks for the bitmap to be gone.
 */
import { Level, uint16 } from './builder';
import { drawText } from './font';
import { packBits } from './pixels';
import { Patient } from './identities';

export function overlayPlane(b: Level, patient: Patient, rows: number, columns: number): void {
  const mask = new Uint8Array(rows * columns);
  const canvas = { data: mask, rows, columns, samplesPerPixel: 1 };
  drawText(canvas, patient.name.banner, 1, 1, [1]);
  drawText(canvas, patient.mrn, 1, 10, [1]);
  const origin = Buffer.alloc(4);
  origin.writeInt16LE(1, 0);
  origin.writeInt16LE(1, 2);
  b.set(0x60000010, uint16(rows), 'US');
  b.set(0x60000011, uint16(columns), 'US');
  b.phi(0x60000022, patient.name.display, patient.name.displayTokens, 'LO');
  b.set(0x60000040, 'G', 'CS');
  b.set(0x60000050, origin, 'SS');
  b.set(0x60000100, uint16(1), 'US');
  b.set(0x60000102, uint16(0), 'US');
  b.phi(0x60001500, `ID ${patient.mrn}`, [patient.mrn], 'LO');
  b.removedBinary(0x60003000, packBits(mask), 'OW');
}
