/**
 * Free text as people write it: clinical words that must survive Clean Descriptors, mixed
 * with the patient's own identifiers and with generic PHI shapes (dates, phone numbers,
 * e-mail addresses, "Dr Firstname Lastname") that must not.
 */
import { FreeText } from './builder';
import { Patient, phoneNumber, titledDoctor } from './identities';
import { Rng } from './random';

/** Clinical phrases: the text, and the words of it the answer key requires to be kept. */
export interface Phrase {
  text: string;
  retained: string[];
}

const p = (text: string, ...retained: string[]): Phrase => ({ text, retained: retained.length ? retained : text.split(' ') });

export const STUDY_PHRASES: Record<'CT' | 'MR' | 'US', Phrase[]> = {
  CT: [
    p('CT CHEST WITH CONTRAST', 'CT', 'CHEST', 'CONTRAST'),
    p('CT ABDOMEN PELVIS PORTAL VENOUS'),
    p('CT THORAX LOW DOSE'),
    p('CT HEAD NON CONTRAST', 'CT', 'HEAD', 'CONTRAST'),
    p('CTA PULMONARY ARTERIES'),
  ],
  MR: [p('MR BRAIN WITH GADOLINIUM', 'MR', 'BRAIN', 'GADOLINIUM'), p('MRI KNEE RIGHT'), p('MR LUMBAR SPINE'), p('MR LIVER DYNAMIC')],
  US: [p('US ABDOMEN COMPLETE'), p('US THYROID'), p('US RENAL DOPPLER'), p('US LIVER ELASTOGRAPHY')],
};

export const SERIES_PHRASES: Record<string, Phrase[]> = {
  CT: [p('AXIAL SOFT TISSUE'), p('LUNG WINDOW THIN'), p('ARTERIAL PHASE'), p('CORONAL MPR'), p('BONE KERNEL AXIAL')],
  MR: [p('T1 SAGITTAL'), p('T2 FLAIR AXIAL'), p('DIFFUSION TRACE'), p('T1 POST CONTRAST'), p('T2 CORONAL FATSAT')],
  EnhancedMR: [p('ENHANCED T2 AXIAL'), p('ENHANCED T1 VOLUME')],
  US: [p('LIVER LONGITUDINAL'), p('GALLBLADDER TRANSVERSE'), p('KIDNEY RIGHT'), p('THYROID LEFT LOBE')],
  SC: [p('SCREEN CAPTURE DOSE REPORT'), p('KEY IMAGES SUMMARY')],
  SR: [p('REPORT FINAL'), p('STRUCTURED REPORT')],
  SEG: [p('LIVER SEGMENTATION'), p('LESION SEGMENTATION')],
};

/** Study descriptions in the site's own language, for sites that do not write English. */
const LOCAL_STUDY_PHRASES: Partial<Record<Patient['charset'], Record<'CT' | 'MR' | 'US', Phrase[]>>> = {
  cyrillic: {
    CT: [p('КТ органов грудной клетки с контрастом', 'КТ', 'грудной', 'клетки', 'контрастом')],
    MR: [p('МРТ головного мозга', 'МРТ', 'головного', 'мозга')],
    US: [p('УЗИ брюшной полости', 'УЗИ', 'брюшной', 'полости')],
  },
  japanese: {
    CT: [p('胸部CT 造影', '胸部', 'CT', '造影')],
    MR: [p('頭部MRI 単純', '頭部', 'MRI', '単純')],
    US: [p('腹部超音波', '腹部', '超音波')],
  },
};

export function studyPhrase(rng: Rng, patient: Patient, modality: 'CT' | 'MR' | 'US'): Phrase {
  const local = LOCAL_STUDY_PHRASES[patient.charset];
  return local && rng.chance(0.6) ? rng.pick(local[modality]) : rng.pick(STUDY_PHRASES[modality]);
}

interface Insert {
  text: string;
  tokens: string[];
}

/** A date that is not any DICOM date of the instance, written as people write dates. */
function genericDate(rng: Rng): Insert {
  const y = rng.int(1950, 2012);
  const m = String(rng.int(1, 12)).padStart(2, '0');
  const d = String(rng.int(1, 28)).padStart(2, '0');
  const text = rng.pick([`${d}/${m}/${y}`, `${d}.${m}.${y}`, `${y}-${m}-${d}`]);
  return { text, tokens: [text] };
}

function birthDateAsWritten(patient: Patient, rng: Rng): Insert {
  const b = patient.birthDate;
  const text = rng.pick([`${b.slice(6, 8)}/${b.slice(4, 6)}/${b.slice(0, 4)}`, `${b.slice(6, 8)}.${b.slice(4, 6)}.${b.slice(0, 4)}`]);
  return { text: `DOB ${text}`, tokens: [text] };
}

/** One piece of identity as it turns up in free text. */
export function identityInsert(rng: Rng, patient: Patient, accession: string): Insert {
  const name = patient.name;
  switch (rng.int(0, 9)) {
    case 0:
      return { text: name.display, tokens: name.displayTokens };
    case 1:
      return patient.charset === 'japanese' ? { text: `${name.display}様`, tokens: name.displayTokens } : { text: `Pat. ${name.family}`, tokens: name.familyTokens };
    case 2:
      return { text: `MRN ${patient.mrn}`, tokens: [patient.mrn] };
    case 3:
      return { text: `Acc ${accession}`, tokens: [accession] };
    case 4:
      return titledDoctor(rng);
    case 5:
      return genericDate(rng);
    case 6:
      return birthDateAsWritten(patient, rng);
    case 7: {
      const phone = rng.chance(0.5) ? patient.phone : phoneNumber(rng, patient.site.country);
      return { text: `tel ${phone}`, tokens: [phone] };
    }
    case 8:
      return { text: patient.email, tokens: [patient.email] };
    default:
      return { text: `(${patient.mrn})`, tokens: [patient.mrn] };
  }
}

/** A phrase with some identity before, inside or after it. */
export function mixed(rng: Rng, phrase: Phrase, inserts: Insert[]): FreeText {
  const parts = [phrase.text];
  for (const ins of inserts) {
    if (rng.chance(0.5)) parts.push(ins.text);
    else parts.unshift(ins.text);
  }
  return { text: parts.join(rng.pick([' ', ' - ', ', '])), retained: phrase.retained, tokens: inserts.flatMap((i) => i.tokens) };
}

export function describe(rng: Rng, phrase: Phrase, patient: Patient, accession: string, inserts = 1): FreeText {
  return mixed(rng, phrase, Array.from({ length: inserts }, () => identityInsert(rng, patient, accession)));
}

/** Protocol names are written as one token with underscores: CT_CHEST_CONTRAST_48213379. */
export function protocolName(rng: Rng, phrase: Phrase, patient: Patient): FreeText {
  const base = phrase.text.replace(/\s+/g, '_');
  if (rng.chance(0.5)) return { text: `${base}_${patient.mrn}`, retained: phrase.retained, tokens: [patient.mrn] };
  return { text: base, retained: phrase.retained, tokens: [] };
}

const COMMENT_SENTENCES: Phrase[] = [
  p('Lesion in RIGHT LOWER LOBE, compare with prior', 'LESION', 'RIGHT', 'LOWER', 'LOBE', 'PRIOR'),
  p('Motion artefact, repeat acquisition advised', 'MOTION', 'ARTEFACT', 'REPEAT', 'ACQUISITION'),
  p('Contrast given intravenously, no adverse reaction', 'CONTRAST', 'INTRAVENOUSLY', 'ADVERSE', 'REACTION'),
  p('Nodule stable in size since last examination', 'NODULE', 'STABLE', 'SIZE', 'EXAMINATION'),
];

/** Image Comments and similar notes: a sentence and two or three pieces of identity. */
export function comment(rng: Rng, patient: Patient, accession: string): FreeText {
  return describe(rng, rng.pick(COMMENT_SENTENCES), patient, accession, rng.int(2, 3));
}

const FILLER = 'Findings are described in the attached report; sequence parameters unchanged from protocol; image quality adequate for diagnosis. ';

/**
 * A value far longer than its VR allows (an LO of several thousand characters), with the
 * identity buried in the middle, as some modalities really send. Only the clinical words at
 * its start must survive: a gateway may cut the value to the VR's maximum length.
 */
export function overLong(rng: Rng, phrase: Phrase, patient: Patient, accession: string, length: number): FreeText {
  const ins = identityInsert(rng, patient, accession);
  const half = FILLER.repeat(Math.ceil(length / 2 / FILLER.length)).slice(0, Math.floor(length / 2));
  return {
    text: `${phrase.text} ${half} ${ins.text} ${half}`,
    retained: phrase.retained,
    tokens: ins.tokens,
  };
}
