/**
 * Decoding of one stored frame to native pixels (little endian, as Explicit VR Little Endian
 * holds them), with dcmjs-codecs' WebAssembly codecs: RLE, JPEG baseline and lossless,
 * JPEG-LS, JPEG 2000 and HTJ2K. Only the requested frame is decoded, from its own bytes.
 */
import { NativeCodecs, Context } from 'dcmjs-codecs';
import { VeilgateError } from '../errors';
import { DicomJson } from '../dicom/json';

export interface PixelDescription {
  rows: number;
  columns: number;
  bitsAllocated: number;
  bitsStored: number;
  samplesPerPixel: number;
  pixelRepresentation: number;
  planarConfiguration: number;
  photometricInterpretation: string;
}

export function pixelDescription(meta: DicomJson): PixelDescription {
  const n = (tag: string, fallback = 0) => Number(meta[tag]?.Value?.[0] ?? fallback);
  return {
    rows: n('00280010'),
    columns: n('00280011'),
    bitsAllocated: n('00280100', 16),
    bitsStored: n('00280101', n('00280100', 16)),
    samplesPerPixel: n('00280002', 1),
    pixelRepresentation: n('00280103'),
    planarConfiguration: n('00280006'),
    photometricInterpretation: String(meta['00280004']?.Value?.[0] ?? 'MONOCHROME2'),
  };
}

let ready: Promise<void> | undefined;

function initialise(): Promise<void> {
  ready ??= NativeCodecs.initializeAsync({ logCodecsInfo: false, logCodecsTrace: false });
  return ready;
}

const DECODERS: Record<string, (c: Context) => Context> = {
  '1.2.840.10008.1.2.5': (c) => NativeCodecs.decodeRle(c),
  '1.2.840.10008.1.2.4.50': (c) => NativeCodecs.decodeJpeg(c, { convertColorspaceToRgb: true }),
  '1.2.840.10008.1.2.4.51': (c) => NativeCodecs.decodeJpeg(c, { convertColorspaceToRgb: true }),
  '1.2.840.10008.1.2.4.57': (c) => NativeCodecs.decodeJpeg(c),
  '1.2.840.10008.1.2.4.70': (c) => NativeCodecs.decodeJpeg(c),
  '1.2.840.10008.1.2.4.80': (c) => NativeCodecs.decodeJpegLs(c),
  '1.2.840.10008.1.2.4.81': (c) => NativeCodecs.decodeJpegLs(c),
  '1.2.840.10008.1.2.4.90': (c) => NativeCodecs.decodeJpeg2000(c),
  '1.2.840.10008.1.2.4.91': (c) => NativeCodecs.decodeJpeg2000(c),
  '1.2.840.10008.1.2.4.201': (c) => NativeCodecs.decodeHtJpeg2000(c),
  '1.2.840.10008.1.2.4.202': (c) => NativeCodecs.decodeHtJpeg2000(c),
  '1.2.840.10008.1.2.4.203': (c) => NativeCodecs.decodeHtJpeg2000(c),
};

export function canDecode(transferSyntaxUID: string): boolean {
  return transferSyntaxUID in DECODERS;
}

/** Decode one frame; colour comes out interleaved (planar configuration 0). */
export async function decodeFrame(encoded: Uint8Array, transferSyntaxUID: string, p: PixelDescription): Promise<Uint8Array> {
  const decode = DECODERS[transferSyntaxUID];
  if (!decode) throw new VeilgateError('not-acceptable', `frames stored as ${transferSyntaxUID} cannot be decoded here`);
  await initialise();
  const context = new Context({
    width: p.columns,
    height: p.rows,
    bitsAllocated: p.bitsAllocated,
    bitsStored: p.bitsStored,
    samplesPerPixel: p.samplesPerPixel,
    pixelRepresentation: p.pixelRepresentation,
    planarConfiguration: p.planarConfiguration,
    photometricInterpretation: p.photometricInterpretation,
    encodedBuffer: encoded,
  });
  const decoded = decode(context).getDecodedBuffer();
  const expected = (p.rows * p.columns * p.samplesPerPixel * p.bitsAllocated) / 8;
  if (!decoded || decoded.length < expected) throw new VeilgateError('unprocessable', 'the frame did not decode to a whole image');
  return decoded.subarray(0, expected);
}
