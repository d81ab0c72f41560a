/**
 * The upper-layer framing the PDU gate reads (PS3.8 section 9.3): PDU headers, the PDV items
 * of a P-DATA-TF, A-ABORT, and the few command elements (PS3.7 section 9.3, E.1) the gate
 * needs to tell one message from the next. Pure functions over buffers.
 */

export const PduType = {
  AssociateRq: 0x01,
  AssociateAc: 0x02,
  AssociateRj: 0x03,
  PDataTf: 0x04,
  ReleaseRq: 0x05,
  ReleaseRp: 0x06,
  Abort: 0x07,
} as const;

/** PDU header: type, reserved, 4-byte big-endian length of what follows. */
export const PDU_HEADER_BYTES = 6;

/** A-ABORT source and reason (PS3.8 Table 9-26). */
export const AbortSource = { ServiceUser: 0, ServiceProvider: 2 } as const;
export const AbortReason = {
  NotSpecified: 0,
  UnrecognizedPdu: 1,
  UnexpectedPdu: 2,
  UnrecognizedPduParameter: 4,
  UnexpectedPduParameter: 5,
  InvalidPduParameterValue: 6,
} as const;

export function abortPdu(source: number, reason: number): Buffer {
  return Buffer.from([PduType.Abort, 0, 0, 0, 0, 4, 0, 0, source, reason]);
}

/** Message control header bits (PS3.8 E.2). */
const MCH_COMMAND = 0x01;
const MCH_LAST = 0x02;

export interface Pdv {
  presentationContextId: number;
  command: boolean;
  last: boolean;
  value: Buffer;
}

/** The PDV items of a whole P-DATA-TF PDU, or a description of why they are malformed. */
export function readPdvs(pdu: Buffer): Pdv[] | string {
  const end = pdu.length;
  const out: Pdv[] = [];
  let pos = PDU_HEADER_BYTES;
  if (pos === end) return 'P-DATA-TF without a PDV';
  while (pos < end) {
    if (end - pos < 6) return 'PDV item header truncated';
    const itemLength = pdu.readUInt32BE(pos);
    if (itemLength < 2 || pos + 4 + itemLength > end) return 'PDV item length does not fit the PDU';
    const mch = pdu[pos + 5];
    out.push({ presentationContextId: pdu[pos + 4], command: (mch & MCH_COMMAND) !== 0, last: (mch & MCH_LAST) !== 0, value: pdu.subarray(pos + 6, pos + 4 + itemLength) });
    pos += 4 + itemLength;
  }
  return out;
}

/** A P-DATA-TF holding one PDV. */
export function pdataPdu(pdv: Pdv): Buffer {
  const out = Buffer.allocUnsafe(PDU_HEADER_BYTES + 6 + pdv.value.length);
  out[0] = PduType.PDataTf;
  out[1] = 0;
  out.writeUInt32BE(6 + pdv.value.length, 2);
  out.writeUInt32BE(2 + pdv.value.length, 6);
  out[10] = pdv.presentationContextId;
  out[11] = (pdv.command ? MCH_COMMAND : 0) | (pdv.last ? MCH_LAST : 0);
  pdv.value.copy(out, 12);
  return out;
}

/** Command Field values (PS3.7 E.1) of the requests the gate judges. */
export const CommandField = {
  CStoreRq: 0x0001,
  CGetRq: 0x0010,
  CFindRq: 0x0020,
  CMoveRq: 0x0021,
  CEchoRq: 0x0030,
} as const;

export interface CommandSummary {
  commandField: number;
  messageId: number;
  hasDataset: boolean;
}

/**
 * Read a command set (always implicit VR little endian) without a general parser: a flat run
 * of group 0000 elements of defined length. Anything else (another group, an undefined length,
 * a value past the end) is refused, so no command can carry a sequence to nest.
 */
export function readCommand(bytes: Buffer): CommandSummary | string {
  let pos = 0;
  let commandField: number | undefined;
  let messageId = 0;
  let dataSetType: number | undefined;
  while (pos < bytes.length) {
    if (bytes.length - pos < 8) return 'command element header truncated';
    const group = bytes.readUInt16LE(pos);
    const element = bytes.readUInt16LE(pos + 2);
    const length = bytes.readUInt32LE(pos + 4);
    if (group !== 0x0000) return 'command set holds an element outside group 0000';
    if (length === 0xffffffff || pos + 8 + length > bytes.length) return 'command element length does not fit';
    const value = bytes.subarray(pos + 8, pos + 8 + length);
    if (value.length >= 2) {
      if (element === 0x0100) commandField = value.readUInt16LE(0);
      else if (element === 0x0110) messageId = value.readUInt16LE(0);
      else if (element === 0x0800) dataSetType = value.readUInt16LE(0);
    }
    pos += 8 + length;
  }
  if (commandField === undefined) return 'command set without a Command Field';
  if (dataSetType === undefined) return 'command set without a Command Data Set Type';
  return { commandField, messageId, hasDataset: dataSetType !== 0x0101 };
}
