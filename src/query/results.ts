/**
 * Builds one search result (PS3.18 JSON) from what the index stores per level, plus the
 * computed attributes (counts, modalities) and any includefield extras.
 */
import { DicomJson, JsonAttribute } from '../dicom/json';
import { LEVEL_TAGS, Level } from './attributes';

export interface ResultSource {
  level: Level;
  studyAttrs?: string;
  seriesAttrs?: string;
  instanceAttrs?: string;
  modalities?: string;
  studySeriesCount?: number;
  studyInstanceCount?: number;
  seriesInstanceCount?: number;
  /** Metadata of the representative instance, when includefield asks for more. */
  metadata?: string;
}

/** Top-level tags that belong to the study (patient and study modules) for includefield=all. */
function isStudyLevelTag(tag: string): boolean {
  return tag.startsWith('0010') || LEVEL_TAGS.study.includes(tag) || ['00081032', '00081060', '00080080', '00080081'].includes(tag);
}

function allForLevel(level: Level, tag: string): boolean {
  if (level === 'study') return isStudyLevelTag(tag);
  if (level === 'series') return isStudyLevelTag(tag) || LEVEL_TAGS.series.includes(tag) || tag.startsWith('0018');
  return true;
}

export function buildResult(src: ResultSource, include: string[] | 'all'): DicomJson {
  const out: DicomJson = {};
  if (src.studyAttrs) Object.assign(out, JSON.parse(src.studyAttrs));
  if (src.seriesAttrs) Object.assign(out, JSON.parse(src.seriesAttrs));
  if (src.instanceAttrs) Object.assign(out, JSON.parse(src.instanceAttrs));
  const put = (tag: string, attr: JsonAttribute) => (out[tag] = attr);
  put('00080056', { vr: 'CS', Value: ['ONLINE'] });
  if (src.modalities !== undefined) {
    const list = src.modalities.split(',').filter(Boolean);
    put('00080061', list.length ? { vr: 'CS', Value: list } : { vr: 'CS' });
  }
  if (src.studySeriesCount !== undefined) put('00201206', { vr: 'IS', Value: [src.studySeriesCount] });
  if (src.studyInstanceCount !== undefined) put('00201208', { vr: 'IS', Value: [src.studyInstanceCount] });
  if (src.seriesInstanceCount !== undefined) put('00201209', { vr: 'IS', Value: [src.seriesInstanceCount] });
  if (src.metadata) {
    const meta = JSON.parse(src.metadata) as DicomJson;
    const wanted = include === 'all' ? Object.keys(meta).filter((t) => allForLevel(src.level, t)) : include;
    for (const tag of wanted) {
      const attr = meta[tag];
      // Bulk data is not returned by a search; only attributes with values inline.
      if (attr && !out[tag] && attr.BulkDataURI === undefined) out[tag] = attr;
    }
  }
  const sorted: DicomJson = {};
  for (const tag of Object.keys(out).sort()) sorted[tag] = out[tag];
  return sorted;
}
