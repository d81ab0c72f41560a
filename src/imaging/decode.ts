/**
 * Decoding of one stored frame to native pixels (little endian, as Explicit VR Little Endian
 * holds them), with dcmjs-codecs' WebAssembly codecs: RLE, JPEG baseline and lossless,
 * JPEG-LS, JPEG 2000 and HTJ2K. Only the requested frame is decoded, from its own bytes.
 */
import { NativeCodecs, Context } from 'dcmjs-codecs';
import { VeilgateError } from '../errors';
import { DicomJson } from '../dicom/json';
import { tagHex } from '../dicom/dataset';
import { Tags } from '../dicom/tags';

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

/**
 * The pixel description from any source of attribute values (`num` gives a numeric
 * attribute's first value by tag), with the defaults PS3.3 implies for absent ones.
 */
export function describePixels(num: (tag: number) => number | undefined, photometric: string | undefined): PixelDescription {
  const n = (tag: number, fallback = 0) => num(tag) ?? fallback;
  const bitsAllocated = n(Tags.BitsAllocated, 16);
  return {
    rows: n(Tags.Rows),
    columns: n(Tags.Columns),
    bitsAllocated,
    bitsStored: n(Tags.BitsStored, bitsAllocated),
    samplesPerPixel: n(Tags.SamplesPerPixel, 1),
    pixelRepresentation: n(Tags.PixelRepresentation),
    planarConfiguration: n(Tags.PlanarConfiguration),
    photometricInterpretation: photometric ?? 'MONOCHROME2',
  };
}

/** From the instance's PS3.18 JSON. */
export function pixelDescription(meta: DicomJson): PixelDescription {
  const first = (tag: number) => meta[tagHex(tag)]?.Value?.[0];
  const num = (tag: number) => {
    const v = first(tag);
    return v === undefined || v === null ? undefined : Number(v);
  };
  const photometric = first(Tags.PhotometricInterpretation);
  return describePixels(num, photometric === undefined ? undefined : String(photometric));
}

let ready: Promise<void> | undefined;

function initialise(): Promise<void> {
  ready ??= NativeCodecs.initializeAsync({ logCodecsInfo: false, logCodecsTrace: false });
  return ready;
}

// Lossy JPEG's colour transform is undone only where the object says the data are YCbCr: an
// RGB object may carry untransformed RGB without the marker that would tell libjpeg so.
const jpegLossy = (c: Context) => NativeCodecs.decodeJpeg(c, { convertColorspaceToRgb: (c.getPhotometricInterpretation() ?? '').startsWith('YBR') });

const DECODERS: Record<string, (c: Context) => Context> = {
  '1.2.840.10008.1.2.5': (c) => NativeCodecs.decodeRle(c),
  '1.2.840.10008.1.2.4.50': jpegLossy,
  '1.2.840.10008.1.2.4.51': jpegLossy,
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

/** The WebAssembly codecs load once; after this resolves, decodeFrameNow may be called. */
export function codecsReady(): Promise<void> {
  return initialise();
}

/** Decode one frame; colour comes out interleaved (planar configuration 0). */
export async function decodeFrame(encoded: Uint8Array, transferSyntaxUID: string, p: PixelDescription): Promise<Uint8Array> {
  await initialise();
  return decodeFrameNow(encoded, transferSyntaxUID, p);
}

/** decodeFrame for callers that cannot wait (a DIMSE sub-operation); codecsReady() must have resolved. */
export function decodeFrameNow(encoded: Uint8Array, transferSyntaxUID: string, p: PixelDescription): Uint8Array {
  const decode = DECODERS[transferSyntaxUID];
  if (!decode) throw new VeilgateError('not-acceptable', `frames stored as ${transferSyntaxUID} cannot be decoded here`);
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
  let decoded: Uint8Array | undefined;
  try {
    decoded = decode(context).getDecodedBuffer();
  } catch (e) {
    throw new VeilgateError('unprocessable', `the frame cannot be decoded: ${String((e as Error).message ?? e).split('\n')[0].slice(0, 200)}`);
  }
  const expected = (p.rows * p.columns * p.samplesPerPixel * p.bitsAllocated) / 8;
  if (!decoded || decoded.length < expected) throw new VeilgateError('unprocessable', 'the frame did not decode to a whole image');
  const pixels = decoded.subarray(0, expected);
  if (p.pixelRepresentation === 1 && p.bitsStored < p.bitsAllocated) signExtend(pixels, p);
  return pixels;
}

/**
 * Signed samples narrower than their container come out of some codestreams (JPEG 2000 marked
 * unsigned, for one) without their sign: extend bit BitsStored-1 upward so that a reader of the
 * native pixels gets the value, as GDCM and pydicom do.
 */
function signExtend(pixels: Uint8Array, p: PixelDescription): void {
  const view = new DataView(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  const size = p.bitsAllocated / 8;
  const shift = 32 - p.bitsStored;
  for (let at = 0; at + size <= pixels.length; at += size) {
    if (size === 1) view.setInt8(at, ((view.getUint8(at) << shift) >> shift) & 0xff);
    else if (size === 2) view.setInt16(at, (view.getUint16(at, true) << shift) >> shift, true);
    else if (size === 4) view.setInt32(at, (view.getUint32(at, true) << shift) >> shift, true);
  }
}

const JPEG_COLOUR_CONVERTED = new Set(['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51']);
const JPEG2000 = new Set(['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.91', '1.2.840.10008.1.2.4.201', '1.2.840.10008.1.2.4.202', '1.2.840.10008.1.2.4.203']);

/**
 * What decodeFrame's output is: interleaved colour, and RGB where the codec undid the colour
 * transform (JPEG baseline/extended YBR_FULL[_422] converted on request; JPEG 2000 YBR_ICT and
 * YBR_RCT, whose component transform is part of the codestream, PS3.5 8.2.4).
 */
export function decodedDescription(p: PixelDescription, transferSyntaxUID: string): PixelDescription {
  if (p.samplesPerPixel !== 3) return p;
  const photometric = p.photometricInterpretation.toUpperCase();
  const toRgb =
    (JPEG_COLOUR_CONVERTED.has(transferSyntaxUID) && photometric.startsWith('YBR_FULL')) ||
    (JPEG2000.has(transferSyntaxUID) && (photometric === 'YBR_ICT' || photometric === 'YBR_RCT'));
  return { ...p, planarConfiguration: 0, photometricInterpretation: toRgb ? 'RGB' : p.photometricInterpretation };
}
