/** Everything the index keeps about an instance, computed once at ingest. */
import { Dataset } from '../dicom/dataset';
import { DicomJson, toDicomJson } from '../dicom/json';
import { WrittenFile } from '../dicom/write';
import { locateFrames } from '../dicom/frames';
import { Tags } from '../dicom/tags';
import { isBinaryVr } from '../dicom/vr';
import { LEVEL_TAGS, Level } from '../query/attributes';
import { normaliseDate, normaliseTime } from '../query/normalise';
import { InstanceRecord } from '../index/index';
import { storedBulkDataUri } from '../metadata/urls';
import { InstanceIdentity } from './validate';

function first(json: DicomJson, tag: string): unknown {
  return json[tag]?.Value?.[0];
}

/**
 * A match key's text. NUL is no character of any DICOM text VR (PS3.5 6.1.2), but senders pad
 * with it; it is dropped here so that every index backend can hold the key (PostgreSQL's text
 * cannot hold NUL). The metadata keeps the value as sent, escaped in its JSON.
 */
function text(json: DicomJson, tag: string): string | null {
  const v = first(json, tag);
  if (v === undefined || v === null) return null;
  const s = typeof v === 'object' ? (v as { Alphabetic?: string }).Alphabetic : String(v);
  return s === undefined ? null : s.replace(/\0/g, '');
}

function integer(json: DicomJson, tag: string): number | null {
  const v = Number(first(json, tag));
  return Number.isInteger(v) ? v : null;
}

function date(json: DicomJson, tag: string): string | null {
  const v = text(json, tag);
  return (v && normaliseDate(v)) ?? null;
}

function time(json: DicomJson, tag: string): string | null {
  const v = text(json, tag);
  return (v && normaliseTime(v)) ?? null;
}

function levelAttributes(json: DicomJson, level: Level): string {
  const out: DicomJson = {};
  for (const tag of LEVEL_TAGS[level]) if (json[tag]) out[tag] = json[tag];
  return JSON.stringify(out);
}

function requestAttribute(json: DicomJson, tag: string): string | null {
  const item = first(json, '00400275') as DicomJson | undefined;
  return item ? text(item, tag) : null;
}

export interface RecordInput {
  id: InstanceIdentity;
  dataset: Dataset;
  written: WrittenFile;
  transferSyntaxUID: string;
  blobKey: string;
  inlineBinaryMaxBytes: number;
  projects: string[];
  joiner: string;
}

export function buildRecord(input: RecordInput): InstanceRecord {
  const { id, dataset, written } = input;
  const json = toDicomJson(dataset, {
    bulkDataUri: (path, el) => {
      const isPixels = el.tag === Tags.PixelData && !path.includes('.');
      const size = el.value?.length ?? Infinity;
      if (!isPixels && isBinaryVr(el.vr) && !el.fragments && size <= input.inlineBinaryMaxBytes) return undefined;
      return storedBulkDataUri(id.studyUID, id.seriesUID, id.sopInstanceUID, path);
    },
  });
  return {
    studyUID: id.studyUID,
    seriesUID: id.seriesUID,
    sopInstanceUID: id.sopInstanceUID,
    sopClassUID: id.sopClassUID,
    transferSyntaxUID: input.transferSyntaxUID,
    instanceNumber: integer(json, '00200013'),
    blobKey: input.blobKey,
    size: written.size,
    frames: locateFrames(dataset, written),
    bulk: Object.fromEntries(written.bulk),
    metadataJson: JSON.stringify(json),
    study: {
      patientName: text(json, '00100010'),
      patientID: text(json, '00100020'),
      patientBirthDate: date(json, '00100030'),
      patientSex: text(json, '00100040'),
      studyDate: date(json, '00080020'),
      studyTime: time(json, '00080030'),
      accessionNumber: text(json, '00080050'),
      studyID: text(json, '00200010'),
      referringPhysicianName: text(json, '00080090'),
      studyDescription: text(json, '00081030'),
      attributesJson: levelAttributes(json, 'study'),
    },
    series: {
      modality: text(json, '00080060'),
      seriesNumber: integer(json, '00200011'),
      seriesDescription: text(json, '0008103E'),
      performedStartDate: date(json, '00400244'),
      performedStartTime: time(json, '00400245'),
      scheduledStepID: requestAttribute(json, '00400009'),
      requestedProcedureID: requestAttribute(json, '00401001'),
      attributesJson: levelAttributes(json, 'series'),
    },
    instanceAttributesJson: levelAttributes(json, 'instance'),
    projects: input.projects,
    joiner: input.joiner,
  };
}
