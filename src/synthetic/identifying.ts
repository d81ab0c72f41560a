/**
 * Synthetic instances loaded with identifying values: one in every attribute of PS3.15
 * Table E.1-1 that holds text or UIDs, at top level and three sequences deep, in private
 * attributes, in free-text descriptions (built from the instance's own identifiers) and in
 * overlay and curve text. Each value is a token that must not survive de-identification.
 *
 * The generator reads the standard's table as published (the data file the gateway is
 * generated from), not the gateway's own resolution of it.
 */
import { DataElement, Dataset, Tag } from '../dicom/dataset';
import { lookup } from '../dicom/dictionary';
import { Tags } from '../dicom/tags';
import { stringElement as element } from '../dicom/values';
import profileData from '../deid/standard/confidentiality-profile.json';
import { syntheticDataset, SyntheticOptions } from './instances';

interface Row {
  tag: string;
  name: string;
  basic: string;
  rtnPatCharsOpt?: string;
  cleanDescOpt?: string;
  rtnLongModifDatesOpt?: string;
}

/** Cleaned (C) under the default options: free text that keeps its useful words. */
const isCleaned = (r: Row) => r.cleanDescOpt === 'C' || r.rtnPatCharsOpt === 'C';

const ROWS = (profileData as unknown as { rows: Row[] }).rows.filter((r) => /^[0-9A-F]{8}$/.test(r.tag));

/** Attributes the generator sets itself (identity of the instance and of its image). */
const SET_BY_GENERATOR = new Set(['00080018', '0020000D', '0020000E', '00100010', '00100020', '00100021', '00080020']);

const TEXT_VRS = new Set(['AE', 'CS', 'LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UT']);

export interface IdentifyingInstance {
  dataset: Dataset;
  /** Text that must appear nowhere after ingest: not in files, index, responses or logs. */
  tokens: string[];
  /** Top-level dates that must come back shifted, by tag. */
  dates: Map<Tag, string>;
}

/** Tokens are letters around a short number, so only the de-identifier's knowledge of them removes them. */
function tokenMaker(prefix: string) {
  let n = 0;
  return (vr: string) => {
    n++;
    const base = `${prefix}${n}q`;
    if (vr === 'PN') return `Zf${base}^Zg${base}`;
    if (vr === 'CS' || vr === 'AE') return `Z${base}`.toUpperCase().slice(0, 16);
    return `Zt${base}`;
  };
}

/** A value for a Table E.1-1 attribute; undefined for VRs that carry no searchable text. */
function tokenFor(row: Row, vr: string, make: (vr: string) => string, uidBase: string, tokens: string[]): string | undefined {
  if (vr === 'UI') {
    const uid = `${uidBase}.${tokens.length + 1000}.7`;
    tokens.push(uid);
    return uid;
  }
  if (vr === 'DA') return '19870314';
  if (vr === 'DT') return '19870314101500';
  if (!TEXT_VRS.has(vr)) return undefined;
  if (row.rtnPatCharsOpt === 'K') return undefined; // retained by the default options: not a leak
  if (isCleaned(row)) return undefined; // cleaned text gets words built from other tokens below
  if (row.rtnLongModifDatesOpt === 'C') return undefined; // times and offsets: not text
  const value = make(vr);
  tokens.push(...value.split('^'));
  return value;
}

/** Sequences that nest the whole attribute set three levels down: kept with U, kept with D, and one the table does not list. */
const CHAIN = [0x00082112, 0x0040a730, 0x00089215];

/** Every Table E.1-1 attribute for one dataset level; sequences along CHAIN recurse to `depth`. */
function identifyingElements(depth: number, make: (vr: string) => string, uidBase: string, tokens: string[]): DataElement[] {
  const out: DataElement[] = [];
  const flat = (): DataElement[] => {
    const small: DataElement[] = [];
    for (const row of ROWS.filter((r) => ['00080090', '00080080', '00081155', '00100010'].includes(r.tag))) {
      const t = parseInt(row.tag, 16) >>> 0;
      const vr = lookup(t)!.vr;
      small.push(element(t, vr, tokenFor(row, vr, make, uidBase, tokens)!));
    }
    return small;
  };
  for (const row of ROWS) {
    if (SET_BY_GENERATOR.has(row.tag)) continue;
    const t = parseInt(row.tag, 16) >>> 0;
    const vr = lookup(t)?.vr.split('|')[0];
    if (!vr || CHAIN.includes(t)) continue;
    if (vr === 'SQ') {
      const item = flat();
      out.push({ tag: t, vr: 'SQ', items: [new Map(item.map((e) => [e.tag, e]))] });
      continue;
    }
    const value = tokenFor(row, vr, make, uidBase, tokens);
    if (value !== undefined) out.push(element(t, vr, value));
  }
  if (depth > 0) {
    for (const t of CHAIN) {
      const inner = identifyingElements(depth - 1, make, uidBase, tokens);
      out.push({ tag: t, vr: 'SQ', items: [new Map(inner.map((e) => [e.tag, e]))] });
    }
  }
  return out;
}

export function identifyingInstance(o: SyntheticOptions & { tokenPrefix?: string; issuerOfPatientID?: string } = {}): IdentifyingInstance {
  const prefix = o.tokenPrefix ?? 'a';
  const make = tokenMaker(prefix);
  const tokens: string[] = [];
  const patientName = o.patientName ?? `Zfam${prefix}q^Zgiv${prefix}q^Zmid${prefix}q`;
  const patientID = o.patientID ?? `ZPID${prefix}Q`;
  const accession = `ZACC${prefix}Q`;
  const issuer = o.issuerOfPatientID ?? `ZISS${prefix}Q`;
  tokens.push(...patientName.split('^'), patientID, accession, issuer);
  const uidBase = `1.2.999.${[...prefix].map((c) => c.charCodeAt(0)).join('')}`;

  // Top level, and sequences nested three deep (each sequence's item holds every attribute again).
  const extra = identifyingElements(3, make, uidBase, tokens);

  // Descriptions that mention the instance's own identifiers among useful words.
  const family = patientName.split('^')[0];
  const given = patientName.split('^')[1];
  const description = `CT CHEST ${given} ${family} ${patientID} ${accession} 14/03/1987`;
  for (const row of ROWS.filter(isCleaned)) {
    const t = parseInt(row.tag, 16) >>> 0;
    const vr = lookup(t)?.vr.split('|')[0];
    if (!vr || !TEXT_VRS.has(vr) || vr === 'PN' || vr === 'CS' || vr === 'AE') continue;
    const value = vr === 'SH' ? `${family} ${patientID}` : description;
    extra.push(element(t, vr, value));
  }
  tokens.push('14/03/1987');

  // Private attributes, at top level and inside a sequence.
  const privateName = make('LO');
  const privateNested = make('LO');
  tokens.push(privateName, privateNested);
  extra.push(
    element(0x00090010, 'LO', 'ACME IDENTITY'),
    element(0x00091001, 'LO', privateName),
    element(0x00091002, 'PN', `${family}^${given}`),
    { tag: 0x00091003, vr: 'SQ', items: [new Map([[0x00100010, element(0x00100010, 'PN', patientName)], [0x00091004, element(0x00091004, 'LO', privateNested)]])] },
  );

  // Overlay and curve text next to an overlay plane.
  const overlayText = make('LO');
  const curveText = make('LO');
  tokens.push(overlayText, curveText);
  extra.push(
    element(0x60000022, 'LO', overlayText),
    element(0x60001500, 'LO', `${family} ${patientID}`),
    element(0x60004000, 'LT', `${given} ${accession}`),
    { tag: 0x60000010, vr: 'US', value: new Uint8Array([8, 0]) },
    { tag: 0x60000011, vr: 'US', value: new Uint8Array([8, 0]) },
    { tag: 0x60003000, vr: 'OW', value: new Uint8Array(8) },
    element(0x50000022, 'LO', curveText),
  );

  // Local codes (schemes PS3.16 does not register) whose value and meaning are free text with
  // the patient in it, one, two and three sequences deep; and a registered code, whose meaning stays.
  const local = (scheme: string, value: string, meaning: string): Dataset => new Map([
    [0x00080100, element(0x00080100, 'SH', value)],
    [0x00080102, element(0x00080102, 'SH', scheme)],
    [0x00080104, element(0x00080104, 'LO', meaning)],
  ]);
  const seq = (t: Tag, ...items: Dataset[]): DataElement => ({ tag: t, vr: 'SQ', items });
  extra.push(
    seq(0x00081032, local('99LOCAL', 'CTCH1', `CT chest ${family}`), local('SCT', '77477000', 'Computerized axial tomography')), // ProcedureCodeSequence
    seq(0x00400260, new Map([[0x00400440, seq(0x00400440, new Map([[0x0040a168, seq(0x0040a168, local('XYZHOSP', patientID, `${given} ${family} knee protocol`))]]))]])), // PerformedProtocolCode > ProtocolContext > ConceptCode
  );

  const { dataset } = syntheticDataset({ ...o, patientName, patientID, accessionNumber: accession, extra });
  dataset.set(Tags.AccessionNumber, element(Tags.AccessionNumber, 'SH', accession));
  dataset.set(0x00100021, element(0x00100021, 'LO', issuer));
  // RequestAttributesSequence (Clean Descriptors: C) > RequestedProcedureCodeSequence, a local code.
  const request = dataset.get(0x00400275)?.items?.[0];
  request?.set(0x00321064, seq(0x00321064, local('L', accession, `${family} ${given} abdomen`)));
  // Far over LO's 64 characters, identifiers at both ends.
  dataset.set(Tags.StudyDescription, element(Tags.StudyDescription, 'LO', `${family} ${'CHEST '.repeat(10_000)}${patientID}`));
  const dates = new Map<Tag, string>();
  for (const el of dataset.values()) {
    if ((el.vr === 'DA' || el.vr === 'DT') && el.value?.length) dates.set(el.tag, Buffer.from(el.value).toString('latin1').trim());
  }
  return { dataset, tokens: [...new Set(tokens)], dates };
}
