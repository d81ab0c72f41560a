/**
 * dcmjs-dimse Datasets that carry their encoded bytes instead of parsed elements, so instances
 * pass through the DIMSE layer untouched: received C-STORE data sets go to the ingest path as
 * they arrived, C-FIND answers go out as we encoded them, and stored instances are sent without
 * a dcmjs re-encode.
 *
 * Neither is ever rewritten here. An instance the peer takes only in another syntax is
 * rewritten before it is handed to the library, by the worker pool (store-pipeline.ts): the
 * library only sends the bytes it is given, in the syntax they are in.
 */
import { Dataset as DimseDataset } from 'dcmjs-dimse';

const EMPTY = Buffer.alloc(0);

export class RawDataset extends DimseDataset {
  constructor(
    protected bytes: Buffer,
    transferSyntaxUid: string,
    /** Elements the DIMSE layer reads (SOPClassUID, SOPInstanceUID for a C-STORE request). */
    elements: Record<string, string> = {},
  ) {
    super(elements, transferSyntaxUid);
  }

  raw(): Buffer {
    return this.bytes;
  }

  /** The bytes are in the syntax they are in: a change is refused (rewriting is done beforehand, off the main thread). */
  override setTransferSyntaxUid(transferSyntaxUid: string): void {
    // Still being constructed (no bytes yet): the library's own constructor may set it.
    if (this.bytes === undefined) return super.setTransferSyntaxUid(transferSyntaxUid);
    if (transferSyntaxUid !== this.getTransferSyntaxUid()) throw new Error('a raw data set is sent in its own transfer syntax, never rewritten by the library');
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

  /** New bytes, in the syntax they are in. */
  protected put(bytes: Buffer, transferSyntaxUid: string): void {
    this.bytes = bytes;
    super.setTransferSyntaxUid(transferSyntaxUid);
  }
}

/**
 * A data set that is bytes held for as long as its request is in flight: empty until it is
 * ready (in the stored syntax until then), let go once answered.
 */
export class HeldDataset extends RawDataset {
  constructor(stored: string, elements: Record<string, string>) {
    super(EMPTY, stored, elements);
  }

  hold(bytes: Buffer, transferSyntaxUid: string): void {
    this.put(bytes, transferSyntaxUid);
  }

  release(): void {
    this.bytes = EMPTY;
  }

  get size(): number {
    return this.bytes.length;
  }
}
