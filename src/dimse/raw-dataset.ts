/**
 * A dcmjs-dimse Dataset that carries its encoded bytes instead of parsed elements, so
 * instances pass through the DIMSE layer untouched: received C-STORE data sets go to the
 * ingest path as they arrived, and stored files are sent without a dcmjs re-encode.
 */
import { Dataset as DimseDataset } from 'dcmjs-dimse';
import { Dataset } from '../dicom/dataset';
import { parseDataset } from '../dicom/parse';
import { writeDataset } from '../dicom/write';
import { TS } from '../dicom/transfer-syntax';

export class RawDataset extends DimseDataset {
  constructor(
    private bytes: Buffer,
    transferSyntaxUid: string,
    /** Elements the DIMSE layer reads (SOPClassUID, SOPInstanceUID for a C-STORE request). */
    elements: Record<string, string> = {},
    /** Decodes a compressed instance to a plain syntax (data set bytes), when the peer accepts only that. */
    private readonly decodeTo?: { can: (target: string) => boolean; run: (target: string) => Buffer },
  ) {
    super(elements, transferSyntaxUid);
  }

  raw(): Buffer {
    return this.bytes;
  }

  /** Switching between Explicit and Implicit VR Little Endian re-encodes; other changes are refused. */
  override setTransferSyntaxUid(transferSyntaxUid: string): void {
    const from = this.getTransferSyntaxUid();
    if (transferSyntaxUid === from || !this.bytes) {
      super.setTransferSyntaxUid(transferSyntaxUid);
      return;
    }
    if (!this.canBecome(transferSyntaxUid)) throw new Error(`cannot transcode ${from} to ${transferSyntaxUid}`);
    if (this.decodeTo?.can(transferSyntaxUid) && !this.isPlain(from)) {
      this.bytes = this.decodeTo.run(transferSyntaxUid);
      super.setTransferSyntaxUid(transferSyntaxUid);
      return;
    }
    const ds: Dataset = parseDataset(this.bytes, from);
    this.bytes = Buffer.concat(writeDataset(ds, { explicit: transferSyntaxUid === TS.ExplicitVRLittleEndian }).chunks);
    super.setTransferSyntaxUid(transferSyntaxUid);
  }

  override getDenaturalizedDataset(): Buffer {
    return this.bytes;
  }

  /**
   * The library transcodes by rebuilding a data set from getElements(); for raw bytes that would
   * send a near-empty data set. Refusing makes it fail the sub-operation instead.
   */
  override getElements(): Record<string, unknown> {
    throw new Error('a raw data set is sent as it is, never rebuilt from elements');
  }

  /**
   * Encode as another plain little-endian syntax when the peer accepted only that one: by
   * re-encoding a plain data set, or by decoding a compressed one where a decoder was given.
   */
  canBecome(transferSyntaxUid: string): boolean {
    const from = this.getTransferSyntaxUid();
    if (transferSyntaxUid === from) return true;
    if (!this.isPlain(transferSyntaxUid)) return false;
    return this.isPlain(from) || Boolean(this.decodeTo?.can(transferSyntaxUid));
  }

  private isPlain(uid: string): boolean {
    return uid === TS.ExplicitVRLittleEndian || uid === TS.ImplicitVRLittleEndian;
  }
}
