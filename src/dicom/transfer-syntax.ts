/** Transfer syntaxes (PS3.5 section 10 and PS3.6 Annex A) and what they imply for encoding. */

export const TS = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
} as const;

export interface TransferSyntaxInfo {
  uid: string;
  name: string;
  /** Pixel data is encapsulated (compressed or otherwise fragment-encoded). */
  encapsulated: boolean;
  lossy: boolean;
  /** Media type of one frame in a WADO-RS frames response. */
  frameMediaType: string;
}

const list: TransferSyntaxInfo[] = [
  { uid: TS.ImplicitVRLittleEndian, name: 'Implicit VR Little Endian', encapsulated: false, lossy: false, frameMediaType: 'application/octet-stream' },
  { uid: TS.ExplicitVRLittleEndian, name: 'Explicit VR Little Endian', encapsulated: false, lossy: false, frameMediaType: 'application/octet-stream' },
  { uid: TS.DeflatedExplicitVRLittleEndian, name: 'Deflated Explicit VR Little Endian', encapsulated: false, lossy: false, frameMediaType: 'application/octet-stream' },
  { uid: TS.ExplicitVRBigEndian, name: 'Explicit VR Big Endian', encapsulated: false, lossy: false, frameMediaType: 'application/octet-stream' },
  { uid: '1.2.840.10008.1.2.4.50', name: 'JPEG Baseline (Process 1)', encapsulated: true, lossy: true, frameMediaType: 'image/jpeg' },
  { uid: '1.2.840.10008.1.2.4.51', name: 'JPEG Extended (Process 2 & 4)', encapsulated: true, lossy: true, frameMediaType: 'image/jpeg' },
  { uid: '1.2.840.10008.1.2.4.57', name: 'JPEG Lossless, Non-Hierarchical (Process 14)', encapsulated: true, lossy: false, frameMediaType: 'image/jpeg' },
  { uid: '1.2.840.10008.1.2.4.70', name: 'JPEG Lossless, First-Order Prediction', encapsulated: true, lossy: false, frameMediaType: 'image/jpeg' },
  { uid: '1.2.840.10008.1.2.4.80', name: 'JPEG-LS Lossless', encapsulated: true, lossy: false, frameMediaType: 'image/jls' },
  { uid: '1.2.840.10008.1.2.4.81', name: 'JPEG-LS Near-Lossless', encapsulated: true, lossy: true, frameMediaType: 'image/jls' },
  { uid: '1.2.840.10008.1.2.4.90', name: 'JPEG 2000 (Lossless Only)', encapsulated: true, lossy: false, frameMediaType: 'image/jp2' },
  { uid: '1.2.840.10008.1.2.4.91', name: 'JPEG 2000', encapsulated: true, lossy: true, frameMediaType: 'image/jp2' },
  { uid: '1.2.840.10008.1.2.4.92', name: 'JPEG 2000 Part 2 Multi-component (Lossless Only)', encapsulated: true, lossy: false, frameMediaType: 'image/jpx' },
  { uid: '1.2.840.10008.1.2.4.93', name: 'JPEG 2000 Part 2 Multi-component', encapsulated: true, lossy: true, frameMediaType: 'image/jpx' },
  { uid: '1.2.840.10008.1.2.4.100', name: 'MPEG2 Main Profile / Main Level', encapsulated: true, lossy: true, frameMediaType: 'video/mpeg' },
  { uid: '1.2.840.10008.1.2.4.101', name: 'MPEG2 Main Profile / High Level', encapsulated: true, lossy: true, frameMediaType: 'video/mpeg' },
  { uid: '1.2.840.10008.1.2.4.102', name: 'MPEG-4 AVC/H.264 High Profile', encapsulated: true, lossy: true, frameMediaType: 'video/mp4' },
  { uid: '1.2.840.10008.1.2.4.103', name: 'MPEG-4 AVC/H.264 BD-compatible', encapsulated: true, lossy: true, frameMediaType: 'video/mp4' },
  { uid: '1.2.840.10008.1.2.4.104', name: 'MPEG-4 AVC/H.264 High Profile For 2D Video', encapsulated: true, lossy: true, frameMediaType: 'video/mp4' },
  { uid: '1.2.840.10008.1.2.4.105', name: 'MPEG-4 AVC/H.264 High Profile For 3D Video', encapsulated: true, lossy: true, frameMediaType: 'video/mp4' },
  { uid: '1.2.840.10008.1.2.4.106', name: 'MPEG-4 AVC/H.264 Stereo High Profile', encapsulated: true, lossy: true, frameMediaType: 'video/mp4' },
  { uid: '1.2.840.10008.1.2.4.107', name: 'HEVC/H.265 Main Profile', encapsulated: true, lossy: true, frameMediaType: 'video/H265' },
  { uid: '1.2.840.10008.1.2.4.108', name: 'HEVC/H.265 Main 10 Profile', encapsulated: true, lossy: true, frameMediaType: 'video/H265' },
  { uid: '1.2.840.10008.1.2.4.201', name: 'High-Throughput JPEG 2000 (Lossless Only)', encapsulated: true, lossy: false, frameMediaType: 'image/jphc' },
  { uid: '1.2.840.10008.1.2.4.202', name: 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)', encapsulated: true, lossy: false, frameMediaType: 'image/jphc' },
  { uid: '1.2.840.10008.1.2.4.203', name: 'High-Throughput JPEG 2000', encapsulated: true, lossy: true, frameMediaType: 'image/jphc' },
  { uid: '1.2.840.10008.1.2.5', name: 'RLE Lossless', encapsulated: true, lossy: false, frameMediaType: 'image/dicom-rle' },
];

const byUid = new Map(list.map((t) => [t.uid, t]));

export function transferSyntax(uid: string): TransferSyntaxInfo | undefined {
  return byUid.get(uid);
}

/**
 * Uncompressed syntaxes are stored as Explicit VR Little Endian (the DICOMweb default,
 * PS3.18 8.7.3.5.2); encapsulated ones keep their bitstream untouched.
 */
export function storedTransferSyntax(received: string): string {
  const info = byUid.get(received);
  return info && info.encapsulated ? received : TS.ExplicitVRLittleEndian;
}
