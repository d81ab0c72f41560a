/** What every kind of instance shares: the modules every IOD has, and writing the file. */
import { Dataset } from '../../../dicom/dataset';
import { writePart10 } from '../../../dicom/write';
import { TS } from '../../../dicom/transfer-syntax';
import { CorpusInstance, ObjectKind, PixelLayout } from '../answer-key';
import { InstanceRecord, Level } from '../builder';
import { InstanceIdentity, sopCommonModule } from '../instance-module';
import { patientModule } from '../patient-module';
import { SeriesPlan } from '../plans';
import { privateBlocks } from '../private-blocks';
import { Rng } from '../random';
import { equipmentModule, seriesModule } from '../series-module';
import { studyModule } from '../study-module';

export interface InstanceInput {
  series: SeriesPlan;
  id: InstanceIdentity;
  rng: Rng;
}

/** A reference to another instance of the corpus (a SEG's source slice, an SR's evidence). */
export interface InstanceRef {
  sopClassUID: string;
  sopInstanceUID: string;
  seriesUID: string;
  /** Image Position (Patient) of a slice, for derived objects that repeat it. */
  position?: string;
}

/** Patient, study, series, equipment and SOP common modules, and the vendor's private blocks. */
export function startInstance(input: InstanceInput): Level {
  const { series, id, rng } = input;
  const root = new Level(new Map(), [], new InstanceRecord(series.study.patient.charset));
  patientModule(root, series.study.patient, series.study, rng);
  studyModule(root, series.study, rng);
  seriesModule(root, series);
  equipmentModule(root, series);
  sopCommonModule(root, series, id, rng);
  privateBlocks(root, series, rng);
  return root;
}

export function finishInstance(kind: ObjectKind, root: Level, input: InstanceInput, pixels?: { data: Uint8Array; layout: PixelLayout }): CorpusInstance {
  const ds: Dataset = root.ds;
  const written = writePart10(ds, { sopClassUID: input.id.sopClassUID, sopInstanceUID: input.id.sopInstanceUID, transferSyntaxUID: TS.ExplicitVRLittleEndian });
  // The transfer syntax (file meta) must not change: the pixel data is stored as sent.
  root.record.answers.push({ action: 'tag_retained', path: [{ tag: 0x00020010 }], value: TS.ExplicitVRLittleEndian });
  return {
    kind,
    bytes: Buffer.concat(written.chunks),
    sopClassUID: input.id.sopClassUID,
    sopInstanceUID: input.id.sopInstanceUID,
    studyUID: input.series.study.uid,
    seriesUID: input.series.uid,
    patientKey: input.series.study.patient.key,
    tokens: [...root.record.tokens],
    answers: root.record.answers,
    pixels,
  };
}

/** An instance reference as a Referenced Image / Source Image item: class kept, UID mapped like its target. */
export function referenceItem(ref: InstanceRef): (item: Level) => void {
  return (item) => {
    item.keep('ReferencedSOPClassUID', ref.sopClassUID);
    item.uid('ReferencedSOPInstanceUID', ref.sopInstanceUID, { consistent: true });
  };
}
