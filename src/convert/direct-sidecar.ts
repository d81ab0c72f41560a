/**
 * The BIDS sidecar of a directly written volume, in the form dcm2niix writes it with
 * "-b y -ba y" (anonymised: no names, IDs, UIDs or dates): the same keys in the same order,
 * numbers printed as its C printf calls print them, strings taken from the first slice's
 * bytes (ISO 8859-1 turned into UTF-8) and escaped as its json_Str does. dcm2niix's
 * BidsGuess heuristic is not reproduced for MR (it is a guess, not DICOM data), and the
 * conversion software is named truthfully.
 */
import type { Dataset } from '../dicom/dataset';
import { tag } from '../dicom/dataset';
import { DirectStack } from './direct-eligibility';
import { formatFixed, formatG } from './direct-format';
import type { HeaderFields, RawSlice } from './direct-nifti';

const f = Math.fround;

export const DIRECT_CONVERTER_VERSION = 'veilgate direct (dcm2niix v1.0.20241231 header)';

/** json_Str: quotes and backslashes escaped, control characters named, ISO 8859-1 bytes as UTF-8. */
function escape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (c >= 0x01 && c <= 0x07) continue;
    else if (c >= 0x08 && c <= 0x0d) out += '\\' + ({ 8: 'b', 9: '9', 10: 'n', 11: '\\', 12: 'f', 13: 'r' } as Record<number, string>)[c];
    else out += ch; // a latin1 code unit is its own Unicode code point: UTF-8 encoding does the rest
  }
  return out;
}

function items(ds: Dataset, group: number, element: number): Dataset[] {
  return ds.get(tag(group, element))?.items ?? [];
}

const intOf = (s: string | undefined) => {
  const m = /^\s*[+-]?\d+/.exec(s ?? '');
  return m ? parseInt(m[0], 10) : 0;
};

/** The sidecar text for a stack whose header was made from `raw` (its first slice). */
export function directSidecar(stack: DirectStack, raw: RawSlice, h: HeaderFields): string {
  const lines: string[] = [];
  const put = (key: string, json: string) => lines.push(`\t"${key}": ${json}`);
  const str = (key: string, value: string | undefined) => {
    if (value) put(key, `"${escape(value)}"`);
  };
  const pos = (key: string, value: number | undefined, text = (v: number) => formatG(v)) => {
    if (value !== undefined && Number.isFinite(value) && value > 0) put(key, text(value));
  };
  const t = (g: number, e: number, max?: number) => raw.text(g, e, max);
  const mr = stack.modality === 'MR';

  put('Modality', `"${stack.modality}"`);
  const field = raw.float(0x0018, 0x0087);
  if (field !== undefined && field > 0) put('MagneticFieldStrength', formatG(field));
  const frequency = raw.double(0x0018, 0x0084);
  if (frequency !== undefined && frequency < 9000000) pos('ImagingFrequency', frequency, (v) => formatG(v, 12));
  if (stack.manufacturer !== 'unknown') put('Manufacturer', `"${stack.manufacturer}"`);
  str('ManufacturersModelName', t(0x0008, 0x1090));
  str('InstitutionName', t(0x0008, 0x0080));
  str('InstitutionalDepartmentName', t(0x0008, 0x1040));
  str('InstitutionAddress', t(0x0008, 0x0081, 256));
  str('DeviceSerialNumber', t(0x0018, 0x1000));
  str('StationName', t(0x0008, 0x1010));
  str('BodyPart', t(0x0018, 0x0015));
  str('PatientPosition', t(0x0018, 0x5100));
  str('ProcedureStepDescription', t(0x0040, 0x0254));
  str('SoftwareVersions', t(0x0018, 0x1020));
  const acquisitionType = t(0x0018, 0x0023) ?? '';
  if (/^2D/i.test(acquisitionType)) put('MRAcquisitionType', '"2D"');
  if (/^3D/i.test(acquisitionType)) put('MRAcquisitionType', '"3D"');
  str('StudyDescription', t(0x0008, 0x1030));
  const seriesDescription = t(0x0008, 0x103e) ?? '';
  let protocol = t(0x0018, 0x1030) ?? '';
  const sequenceName = t(0x0018, 0x0024) ?? '';
  if (protocol.length < 1 && seriesDescription.length > 1) protocol = seriesDescription;
  if (protocol.length < 1 && sequenceName.length > 1 && stack.manufacturer !== 'Siemens') protocol = sequenceName;
  str('SeriesDescription', seriesDescription);
  str('ProtocolName', protocol);
  str('ScanningSequence', t(0x0018, 0x0020));
  str('SequenceVariant', t(0x0018, 0x0021));
  str('ScanOptions', t(0x0018, 0x0022, 256));
  str('SequenceName', sequenceName);
  const imageType = (t(0x0008, 0x0008) ?? '').replace(/\\/g, '_');
  const complex = (t(0x0008, 0x9208) ?? '').toUpperCase();
  const n = imageType.length;
  let isPhase = (n > 3 && imageType.includes('_P_')) || (n > 6 && imageType.includes('PHASE'));
  let isReal = (n > 3 && imageType.includes('_R_')) || (n > 6 && imageType.includes('_REAL_'));
  let isImaginary = (n > 3 && imageType.includes('_I_')) || (n > 11 && imageType.includes('_IMAGINARY_'));
  if (complex.startsWith('PH')) isPhase = true;
  if (complex.startsWith('RE')) isReal = true;
  if (complex.startsWith('IM')) isImaginary = true;
  const isFieldMap = n > 5 && imageType.includes('B0') && imageType.includes('MAP');
  if (n > 0) {
    let s = '["';
    let sep = false;
    for (const ch of imageType) {
      if (ch !== '_') {
        if (sep) s += '", "';
        sep = false;
        s += escape(ch);
      } else sep = true;
    }
    const ge = stack.manufacturer === 'GE';
    if (isPhase && (ge || !imageType.includes('_PHASE_'))) s += '", "PHASE';
    if (isReal && (ge || !imageType.includes('_REAL_'))) s += '", "REAL';
    if (isImaginary && (ge || !imageType.includes('_IMAGINARY_'))) s += '", "IMAGINARY';
    if (isFieldMap) s += '", "FIELDMAPHZ';
    put('ImageType', s + '"]');
  }
  if (imageType.length > 6 && imageType.includes('DERIVED')) put('RawImage', 'false');
  const methods = raw.ds.get(tag(0x0012, 0x0063));
  if (methods?.value?.length) {
    const values = (t(0x0012, 0x0063) ?? '').split('\\');
    put('DeidentificationMethod', values.length > 1 ? `[${values.map((v) => `"${escape(v)}"`).join(', ')}]` : `"${escape(values[0])}"`);
  }
  const codes = items(raw.ds, 0x0012, 0x0064);
  if (codes.length) {
    const text = (item: Dataset, e: number) => {
      const el = item.get(tag(0x0008, e));
      if (!el?.value?.length) return undefined;
      let s = Buffer.from(el.value.buffer, el.value.byteOffset, el.value.byteLength).toString('latin1');
      if (s.endsWith(' ')) s = s.slice(0, -1);
      return s.replace(/\0.*$/, '');
    };
    const blocks = codes.map((item) => {
      const fields = [
        ['CodeValue', text(item, 0x0100)],
        ['CodingSchemeDesignator', text(item, 0x0102)],
        ['CodeMeaning', text(item, 0x0104)],
      ].filter((x): x is [string, string] => !!x[1]);
      return `\t  { \n${fields.map(([k, v]) => `\t\t"${k}": "${escape(v)}"`).join(',\n')}\n\t  }`;
    });
    lines.push(`\t"DeidentificationMethodCodeSequence": [ \n${blocks.join(',\n')}\n\t]`);
  }
  const seriesNumber = intOf(t(0x0020, 0x0011));
  if (seriesNumber > 0) put('SeriesNumber', String(seriesNumber));
  if (h.acquisitionTime > 0 && h.acquisitionDate > 0) {
    const time = formatFixed(h.acquisitionTime, 5);
    const signed = (h.acquisitionTime < 0 ? '-' : '+') + time.replace('-', '').padStart(12, '0');
    const hour = parseInt(signed.slice(0, 3), 10);
    const minute = parseInt(signed.slice(3, 5), 10);
    const second = parseFloat(signed.slice(5));
    put('AcquisitionTime', `"${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}:${formatFixed(second, 6).padStart(2, '0')}"`);
  }
  const acquisitionNumber = intOf(t(0x0020, 0x0012));
  if (acquisitionNumber > 0) put('AcquisitionNumber', String(acquisitionNumber));
  str('ImageComments', t(0x0020, 0x4000, 256));
  if (stack.manufacturer === 'GE' || stack.manufacturer === 'Philips') {
    let trigger = raw.float(0x0018, 0x1060) ?? 0;
    const last = stack.slices[stack.slices.length - 1].json['00181060']?.Value?.[0];
    const dx = stack.slices.length > 1 && typeof last === 'number' ? f(last) - trigger : 0;
    if (dx > 0) trigger = f(dx);
    pos('TriggerDelayTime', trigger);
  }
  str('ConvolutionKernel', t(0x0018, 0x1210));
  const exposureTime = intOf(t(0x0018, 0x1150));
  pos('ExposureTime', f(exposureTime / 1000));
  pos('XRayTubeCurrent', f(intOf(t(0x0018, 0x1151))));
  if (h.te > 0 && h.isXRay) put('XRayExposure', formatG(h.te));
  if (!h.isXRay) {
    pos('SliceThickness', raw.float(0x0018, 0x0050));
    pos('SpacingBetweenSlices', raw.float(0x0018, 0x0088));
  }
  pos('SAR', raw.float(0x0018, 0x1316));
  const averages = raw.float(0x0018, 0x0083);
  if (averages !== undefined && averages > 1) pos('NumberOfAverages', averages);
  const echoNumber = intOf(t(0x0018, 0x0086));
  if (echoNumber > 1) put('EchoNumber', String(echoNumber));
  if (h.te > 0 && !h.isXRay) put('EchoTime', formatG(h.te / 1000));
  pos('RepetitionTime', f(h.tr / 1000));
  const mt = t(0x0018, 0x9020);
  if (mt && /^OF/i.test(mt)) put('MTState', 'true');
  else if (mt && (/^ON/i.test(mt) || /^NO/i.test(mt))) put('MTState', 'false');
  const spoiling = (t(0x0018, 0x9016) ?? '').toUpperCase();
  const variant = t(0x0018, 0x0021) ?? '';
  if (spoiling.includes('RF') || spoiling.includes('GRADIENT') || (!spoiling && variant.includes('\\SP'))) put('SpoilingState', 'true');
  if (spoiling.includes('RF')) put('SpoilingType', '"COMBINED"');
  else if (spoiling.includes('GRADIENT')) put('SpoilingType', '"GRADIENT"');
  pos('InversionTime', f((raw.float(0x0018, 0x0082) ?? 0) / 1000));
  pos('FlipAngle', raw.float(0x0018, 0x1314));
  str('CoilString', t(0x0018, 0x1250));
  pos('PercentPhaseFOV', raw.float(0x0018, 0x0094) ?? raw.float(0x0018, 0x0093));
  pos('PercentSampling', raw.float(0x0018, 0x0093));
  const echoTrain = intOf(t(0x0018, 0x0091));
  if (echoTrain > 1) put('EchoTrainLength', String(echoTrain));
  const phaseSteps = intOf(t(0x0018, 0x0089));
  if (phaseSteps > 0) put('PhaseEncodingSteps', String(phaseSteps));
  const matrix = raw.ds.get(tag(0x0018, 0x1310))?.value;
  let phaseLines = 0;
  if (matrix && matrix.length === 8) {
    const m = [0, 1, 2, 3].map((i) => matrix[2 * i] | (matrix[2 * i + 1] << 8));
    if (m[3] > 0) phaseLines = m[3];
    if (m[2] > 0) phaseLines = m[2];
  }
  if (phaseLines > 0 && mr) put('AcquisitionMatrixPE', String(phaseLines));
  let reconMatrixPE = phaseLines;
  if (stack.columns === stack.rows) reconMatrixPE = stack.rows;
  else if (h.phaseRC === 'C') reconMatrixPE = stack.rows;
  else if (h.phaseRC === 'R') reconMatrixPE = stack.columns;
  if (mr && reconMatrixPE > 0) put('ReconMatrixPE', String(reconMatrixPE));
  const bandwidthPE = raw.fd(0x0018, 0x9058) ?? 0;
  pos('BandwidthPerPixelPhaseEncode', f(bandwidthPE));
  const accelPE = raw.fd(0x0018, 0x9069) ?? 0;
  if (accelPE > 1) put('ParallelReductionFactorInPlane', formatG(f(accelPE)));
  str('ParallelAcquisitionTechnique', t(0x0018, 0x9078));
  const accelOOP = raw.fd(0x0018, 0x9155) ?? 0;
  if (accelOOP > 1) put('ParallelReductionOutOfPlane', formatG(f(accelOOP)));
  let effectiveEchoSpacing = 0;
  if (reconMatrixPE > 0 && bandwidthPE > 0) effectiveEchoSpacing = 1 / (bandwidthPE * reconMatrixPE);
  pos('EffectiveEchoSpacing', f(effectiveEchoSpacing));
  let trueES = 1;
  if (accelPE > 1) trueES /= accelPE;
  let derived = f(bandwidthPE * trueES * reconMatrixPE);
  if (derived !== 0) derived = f(1 / derived);
  pos('DerivedVendorReportedEchoSpacing', derived);
  if (reconMatrixPE > 0 && effectiveEchoSpacing > 0) put('TotalReadoutTime', formatG(effectiveEchoSpacing * (reconMatrixPE - 1)));
  pos('PixelBandwidth', raw.float(0x0018, 0x0095));
  const skipAxis = /^3D/i.test(acquisitionType) && !(echoTrain > 1);
  if ((h.phaseRC === 'C' || h.phaseRC === 'R') && !skipAxis) put('PhaseEncodingAxis', h.phaseRC === 'C' ? '"j"' : '"i"');
  const mxOrient = Math.max(...h.orient.map(Math.abs));
  if (Math.abs(f(mxOrient)) > 0.0001) {
    lines.push(`\t"ImageOrientationPatientDICOM": [\n${h.orient.map((v) => `\t\t${formatG(v)}`).join(',\n')}\t]`);
  }
  if (h.phaseRC === 'C') put('InPlanePhaseEncodingDirectionDICOM', '"COL"');
  if (h.phaseRC === 'R') put('InPlanePhaseEncodingDirectionDICOM', '"ROW"');
  if (!mr) put('BidsGuess', '["CT","CT"]');
  put('ConversionSoftware', '"veilgate"');
  put('ConversionSoftwareVersion', `"${DIRECT_CONVERTER_VERSION}"`);
  return `{\n${lines.join(',\n')}\n}\n`;
}
