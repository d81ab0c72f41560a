/**
 * The answer key: for each instance, what a correct de-identification must have done to
 * each attribute, in the manner of MIDI-B (MICCAI 2024), whose score is the percentage of
 * these required actions done right. Actions follow Veilgate's documented default profile
 * (Basic + Retain Longitudinal Temporal with Modified Dates + Retain Patient Characteristics
 * + Clean Descriptors; private attributes, overlays and burned-in text removed).
 *
 * Paths locate an attribute through sequence items by index. Items that a correct tool may
 * drop (local codes, content items with identity) are always planted after the items that
 * must stay, so dropping them never shifts the index of an item with a retained value.
 */
import { Tag } from '../../dicom/dataset';

export type ObjectKind = 'CT' | 'MR' | 'US' | 'SC' | 'SR' | 'SEG' | 'EnhancedMR';

/** One step into the data set: an attribute, and when it is a sequence the item to enter. */
export interface PathStep {
  tag: Tag;
  item?: number;
}

/** Steps from the top-level data set (group 0002: the file meta information); the last one names the attribute itself. */
export type AttributePath = PathStep[];

/** A pixel rectangle: x is the column, y the row. */
export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type AnswerItem =
  /** This PHI token must not appear in this attribute (nor anywhere else: see the leak scan). */
  | { action: 'text_removed'; path: AttributePath; token: string }
  /** These non-PHI words must still be in this attribute. */
  | { action: 'text_retained'; path: AttributePath; words: string[] }
  /** Present, with the same value: decoded text for string VRs, hex bytes for binary ones. */
  | { action: 'tag_retained'; path: AttributePath; value: string }
  /** Absent or empty: a binary value that cannot be cleaned (an overlay bitmap with a name drawn in it). */
  | { action: 'tag_removed'; path: AttributePath }
  /** Present and not empty (PatientName and PatientID become a pseudonym). */
  | { action: 'text_notnull'; path: AttributePath }
  /** A DA or DT moved by a non-zero number of days, the same for every date of the patient; times kept. */
  | { action: 'date_shifted'; path: AttributePath; original: string; vr: 'DA' | 'DT' }
  /** A UID replaced by a different, valid UID. */
  | { action: 'uid_changed'; path: AttributePath; original: string }
  /** Every occurrence of one original UID maps to the same new UID. */
  | { action: 'uid_consistent'; path: AttributePath; original: string }
  /** One new PatientID per patient across all studies; different patients get different ones. */
  | { action: 'patid_consistent'; path: AttributePath; patientKey: string; original: string }
  /** Every sample of the region is zero in every frame. */
  | { action: 'pixels_hidden'; region: Region }
  /** Every sample outside the region (all of them when there is none) is the original one. */
  | { action: 'pixels_retained'; region?: Region };

export type Action = AnswerItem['action'];

export const ACTIONS: Action[] = [
  'text_removed', 'text_retained', 'tag_retained', 'tag_removed', 'text_notnull', 'date_shifted',
  'uid_changed', 'uid_consistent', 'patid_consistent', 'pixels_hidden', 'pixels_retained',
];

/** How the pixel data of an instance is laid out, so the scorer can address regions in it. */
export interface PixelLayout {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  frames: number;
}

/** One generated instance: its bytes, what must become of it, and what must never be seen again. */
export interface CorpusInstance {
  kind: ObjectKind;
  bytes: Buffer;
  sopClassUID: string;
  sopInstanceUID: string;
  studyUID: string;
  seriesUID: string;
  /** Issuer and Patient ID: the patient this instance belongs to. */
  patientKey: string;
  /** Every PHI value planted in the instance, as Unicode text: none may survive anywhere. */
  tokens: string[];
  answers: AnswerItem[];
  pixels?: { data: Uint8Array; layout: PixelLayout };
}
