/**
 * Coded entries. Registered codes (DCM, SCT, LN, UCUM) carry no identity and must be kept
 * whole; local codes (99LOCAL, L, LOCAL, or a scheme a site made up) are written by people
 * and carry whatever they typed: here the patient's surname or MRN.
 */
import { Level } from './builder';
import { Patient, Site } from './identities';
import { Rng } from './random';

export interface Code {
  value: string;
  scheme: 'DCM' | 'SCT' | 'LN' | 'UCUM';
  meaning: string;
}

const code = (scheme: Code['scheme'], value: string, meaning: string): Code => ({ scheme, value, meaning });

export const CODES = {
  ctChest: code('LN', '24627-2', 'CT Chest'),
  mrBrain: code('LN', '24590-2', 'MR Brain'),
  usAbdomen: code('LN', '24558-9', 'US Abdomen'),
  chest: code('SCT', '51185008', 'Chest'),
  brain: code('SCT', '12738006', 'Brain'),
  abdomen: code('SCT', '818981001', 'Abdomen'),
  liver: code('SCT', '10200004', 'Liver'),
  lung: code('SCT', '39607008', 'Lung'),
  kidney: code('SCT', '64033007', 'Kidney'),
  anatomicalStructure: code('SCT', '123037004', 'Anatomical Structure'),
  tissue: code('SCT', '85756007', 'Tissue'),
  mass: code('SCT', '4147007', 'Mass'),
  chestPain: code('SCT', '29857009', 'Chest pain'),
  headache: code('SCT', '25064002', 'Headache'),
  abdominalPain: code('SCT', '21522001', 'Abdominal pain'),
  imagingReport: code('LN', '18748-4', 'Diagnostic imaging report'),
  history: code('DCM', '121060', 'History'),
  findings: code('DCM', '121070', 'Findings'),
  finding: code('DCM', '121071', 'Finding'),
  impression: code('DCM', '121073', 'Impression'),
  procedureReported: code('DCM', '121058', 'Procedure reported'),
  personObserverName: code('DCM', '121008', 'Person Observer Name'),
  studyDate: code('DCM', '111060', 'Study Date'),
  findingSite: code('SCT', '363698007', 'Finding Site'),
  diameter: code('SCT', '81827009', 'Diameter'),
  millimeter: code('UCUM', 'mm', 'millimeter'),
  computedTomography: code('DCM', 'CT', 'Computed Tomography'),
  magneticResonance: code('DCM', 'MR', 'Magnetic Resonance'),
  ultrasound: code('DCM', 'US', 'Ultrasound'),
  manualProcessing: code('DCM', '113101', 'Manual Processing'),
} as const;

/** The words of a meaning, as text_retained checks them. */
const words = (meaning: string) => meaning.split(/\s+/).filter(Boolean);

/** A registered code: value and scheme kept exactly, meaning kept word for word. */
export function registeredCode(c: Code, extra?: (item: Level) => void): (item: Level) => void {
  return (item) => {
    item.keep('CodeValue', c.value);
    item.keep('CodingSchemeDesignator', c.scheme);
    item.keepWords('CodeMeaning', c.meaning, words(c.meaning));
    extra?.(item);
  };
}

const LOCAL_PREFIX: Record<Patient['charset'], string[]> = {
  latin1: ['CT Thorax', 'Kontrolle', 'Protokoll', 'Nachsorge', 'Suivi', 'Control'],
  utf8: ['Kontrola', 'Protokol', 'Kiểm tra', 'Kontrolle'],
  cyrillic: ['КТ ОГК', 'Контроль', 'Протокол'],
  japanese: ['胸部CT', '経過観察', 'プロトコル'],
};

/** The scheme a local code is written in: the common local designators, or the site's own. */
export function localScheme(rng: Rng, site: Site): string {
  return rng.pick(['99LOCAL', 'L', 'LOCAL', site.localScheme]);
}

/**
 * A local code whose meaning names the patient (or their MRN), as a RIS user typed it; some
 * carry the MRN in a Long Code Value (UC) as well. Nothing of it is asked to survive.
 */
export function localCode(rng: Rng, patient: Patient): (item: Level) => void {
  return (item) => {
    const prefix = rng.pick(LOCAL_PREFIX[patient.charset]);
    const withMrn = rng.chance(0.35);
    if (rng.chance(0.25)) {
      // Long Code Value instead of Code Value (PS3.3 8.8): the MRN is part of the value.
      item.phi('LongCodeValue', `${patient.site.issuer}-${patient.mrn}-${rng.letters(3)}`, [patient.site.issuer, patient.mrn]);
    } else {
      item.set('CodeValue', `${rng.letters(2)}${rng.digits(3)}`);
    }
    item.set('CodingSchemeDesignator', localScheme(rng, patient.site));
    if (withMrn) item.phi('CodeMeaning', `${prefix} MRN ${patient.mrn}`, [patient.mrn]);
    else item.phi('CodeMeaning', `${prefix} ${patient.name.family}`, patient.name.familyTokens);
  };
}

/**
 * Coding Scheme Identification (SOP Common): the registered scheme is described by its public
 * URL (kept); the site's own scheme by its name, intranet URL and owner, all naming the site.
 */
export function codingSchemeIdentification(b: Level, site: Site): void {
  b.seq('CodingSchemeIdentificationSequence', [
    (item) => {
      item.keep('CodingSchemeDesignator', 'SCT');
      item.keep('CodingSchemeURL', 'http://snomed.info/sct');
      item.keepWords('CodingSchemeName', 'SNOMED CT', ['SNOMED', 'CT']);
    },
    (item) => {
      item.set('CodingSchemeDesignator', site.localScheme);
      item.phi('CodingSchemeURL', `https://ris.${site.domain}/codes/leistungen`, [site.asciiToken]);
      item.phi('CodingSchemeName', `Leistungskatalog ${site.institution}`, [site.token]);
      item.phi('CodingSchemeResponsibleOrganization', `${site.institution} IT`, [site.token]);
    },
  ]);
}
