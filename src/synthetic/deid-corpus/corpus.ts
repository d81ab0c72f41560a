/**
 * The corpus: patients at hospitals using four character sets, each with one to three
 * studies (CT, MR or ultrasound), each study with several series of different object kinds
 * that refer to one another (a SEG to its CT slices, an SR to the images it reports on, a
 * secondary capture to its source). Deterministic from the seed.
 */
import { CorpusInstance, ObjectKind } from './answer-key';
import { addDays, studyDay } from './calendar';
import { makePatient, makeSites, pickSite, Patient } from './identities';
import { InstanceIdentity } from './instance-module';
import { planSeries, planStudy, SeriesPlan, StudyModality } from './plans';
import { Rng } from './random';
import { UidSource } from './uids';
import { InstanceRef } from './kinds/common';
import { CT_IMAGE_STORAGE, MR_IMAGE_STORAGE, slicePosition, sliceInstance } from './kinds/cross-sectional';
import { ENHANCED_MR_STORAGE, enhancedMrInstance } from './kinds/enhanced-mr';
import { SECONDARY_CAPTURE_STORAGE, secondaryCaptureInstance } from './kinds/secondary-capture';
import { SEGMENTATION_STORAGE, segmentationInstance } from './kinds/segmentation';
import { BASIC_TEXT_SR_STORAGE, COMPREHENSIVE_SR_STORAGE, structuredReportInstance } from './kinds/structured-report';
import { US_IMAGE_STORAGE, US_MULTIFRAME_STORAGE, ultrasoundInstance } from './kinds/ultrasound';

export interface CorpusOptions {
  /** At least this many instances (the last patient's studies are cut to fit exactly). */
  instances: number;
  seed: number;
}

export interface Corpus {
  instances: CorpusInstance[];
  patients: Patient[];
}

/** Writes the instances of one study in order, so every reference points backwards. */
class StudyWriter {
  readonly out: CorpusInstance[] = [];
  private seriesNumber = 0;

  constructor(
    private readonly rng: Rng,
    private readonly uids: UidSource,
    private readonly study: ReturnType<typeof planStudy>,
  ) {}

  series(kind: ObjectKind, frameOfReferenceUID = this.uids.next()): SeriesPlan {
    return planSeries(this.rng.fork(++this.seriesNumber), this.uids, this.study, kind, this.seriesNumber, frameOfReferenceUID);
  }

  identity(sopClassUID: string, number: number): InstanceIdentity {
    return { sopClassUID, sopInstanceUID: this.uids.next(), number };
  }

  add(i: CorpusInstance): InstanceRef {
    this.out.push(i);
    return { sopClassUID: i.sopClassUID, sopInstanceUID: i.sopInstanceUID, seriesUID: i.seriesUID };
  }

  /** A series of CT or MR slices; returns references to them with their positions. */
  slices(kind: 'CT' | 'MR', count: number, frameOfReferenceUID: string, planned?: InstanceRef): InstanceRef[] {
    const s = this.series(kind, frameOfReferenceUID);
    const sop = kind === 'CT' ? CT_IMAGE_STORAGE : MR_IMAGE_STORAGE;
    return Array.from({ length: count }, (_, n) => {
      const input = { series: s, id: this.identity(sop, n + 1), rng: this.rng.fork(1000 + n), referencedImage: planned };
      return { ...this.add(sliceInstance(kind, input)), position: slicePosition(n + 1) };
    });
  }

  report(evidence: InstanceRef[]): void {
    const s = this.series('SR');
    const comprehensive = this.rng.chance(0.7);
    const id = this.identity(comprehensive ? COMPREHENSIVE_SR_STORAGE : BASIC_TEXT_SR_STORAGE, 1);
    this.add(structuredReportInstance({ series: s, id, rng: this.rng.fork(7) }, evidence.slice(0, 4), comprehensive));
  }

  capture(source?: InstanceRef): void {
    const s = this.series('SC');
    this.add(secondaryCaptureInstance({ series: s, id: this.identity(SECONDARY_CAPTURE_STORAGE, 1), rng: this.rng.fork(8) }, source));
  }
}

function ctStudy(w: StudyWriter, rng: Rng, uids: UidSource): void {
  const frameOfReference = uids.next();
  const main = w.slices('CT', rng.int(4, 8), frameOfReference);
  if (rng.chance(0.5)) w.slices('CT', rng.int(3, 5), frameOfReference, main[0]);
  if (rng.chance(0.7)) {
    const s = w.series('SEG', frameOfReference);
    w.add(segmentationInstance({ series: s, id: w.identity(SEGMENTATION_STORAGE, 1), rng: rng.fork(5) }, main, uids.next()));
  }
  if (rng.chance(0.5)) w.capture(main[0]);
  if (rng.chance(0.8)) w.report(main);
}

function mrStudy(w: StudyWriter, rng: Rng, uids: UidSource): void {
  const frameOfReference = uids.next();
  const first = w.slices('MR', rng.int(4, 7), frameOfReference);
  if (rng.chance(0.5)) w.slices('MR', rng.int(3, 6), frameOfReference);
  if (rng.chance(0.8)) {
    const s = w.series('EnhancedMR', frameOfReference);
    w.add(enhancedMrInstance({ series: s, id: w.identity(ENHANCED_MR_STORAGE, 1), rng: rng.fork(6) }, rng.int(3, 5), uids.next()));
  }
  if (rng.chance(0.8)) w.report(first);
}

function usStudy(w: StudyWriter, rng: Rng): void {
  const s = w.series('US');
  const rgb = rng.chance(0.6);
  const images: InstanceRef[] = [];
  for (let n = 1; n <= rng.int(3, 7); n++) {
    const frames = rng.chance(0.2) ? rng.int(2, 3) : 1;
    const id = w.identity(frames > 1 ? US_MULTIFRAME_STORAGE : US_IMAGE_STORAGE, n);
    images.push(w.add(ultrasoundInstance({ series: s, id, rng: rng.fork(100 + n) }, { rgb, frames })));
  }
  if (rng.chance(0.4)) w.capture(images[0]);
  if (rng.chance(0.7)) w.report(images);
}

export function generateCorpus(options: CorpusOptions): Corpus {
  const rng = new Rng(options.seed);
  const sites = makeSites(rng.fork(0));
  const uids = new UidSource(rng.fork(1));
  const usedMrns = new Set<string>();
  const instances: CorpusInstance[] = [];
  const patients: Patient[] = [];
  for (let p = 0; instances.length < options.instances; p++) {
    const prng = rng.fork(10 + p);
    const patient = makePatient(prng, pickSite(prng, sites), usedMrns);
    patients.push(patient);
    let day = studyDay(prng);
    for (let s = prng.int(1, 3); s > 0; s--) {
      const modality: StudyModality = prng.pick(['CT', 'CT', 'MR', 'US', 'US'] as const);
      const srng = prng.fork(s);
      const w = new StudyWriter(srng, uids, planStudy(srng, uids, patient, modality, day));
      if (modality === 'CT') ctStudy(w, srng, uids);
      else if (modality === 'MR') mrStudy(w, srng, uids);
      else usStudy(w, srng);
      instances.push(...w.out);
      day = addDays(day, prng.int(14, 400));
    }
  }
  // Cut to the number asked for: studies are written in order, so no reference is left dangling.
  return { instances: instances.slice(0, options.instances), patients };
}
