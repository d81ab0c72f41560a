/**
 * One data set as a PS3.10 file in one buffer of its own: what crosses a thread boundary (moved,
 * not copied) from a worker that made or cleaned the object to the one ingest path.
 */
import { Dataset } from './dataset';
import { readUidValue } from './parse';
import { Tags } from './tags';
import { TS } from './transfer-syntax';
import { writePart10 } from './write';

/** Chunks joined into a buffer of its own, so it can be transferred. */
export function joinChunks(chunks: Uint8Array[], size = chunks.reduce((n, c) => n + c.length, 0)): Uint8Array {
  // Not zero-filled first: every byte is written below.
  const out = Buffer.allocUnsafeSlow(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A data set the gateway made, encoded with its own SOP UIDs in Explicit VR Little Endian. */
export function encodeDerived(ds: Dataset): Uint8Array {
  const written = writePart10(ds, {
    sopClassUID: readUidValue(ds.get(Tags.SOPClassUID)) ?? '',
    sopInstanceUID: readUidValue(ds.get(Tags.SOPInstanceUID)) ?? '',
    transferSyntaxUID: TS.ExplicitVRLittleEndian,
  });
  return joinChunks(written.chunks, written.size);
}
