/** A MIDI-B style de-identification corpus: instances, their answer keys and their PHI tokens. */
export { generateCorpus } from './corpus';
export type { Corpus, CorpusOptions } from './corpus';
export * from './answer-key';
export { BURNED_IN_LAYOUTS, bannerRegion } from './burned-in';
export type { BurnedInLayout } from './burned-in';
export { SYNTHETIC_MANUFACTURER } from './series-module';
export { SECONDARY_CAPTURE_STORAGE } from './kinds/secondary-capture';
export { encodeInCharset, SPECIFIC_CHARACTER_SET } from './charsets';
export type { Charset } from './charsets';
