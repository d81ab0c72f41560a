/**
 * What an export bundle holds: a QIDO-style query (series level by default: { "Modality": "CT" }
 * picks CT series; "level": "study" takes whole studies), a list of (pseudonymous)
 * StudyInstanceUIDs, or a project, resolved through the caller's view of the index to a list of
 * series. Segmentations go with the images they segment: a SEG series in a selected series'
 * study whose ReferencedSeriesSequence names a selected series is added, after the images.
 */
import { parseQueryParams, parseStudyList } from '../egress/selection';
import { VeilgateError } from '../errors';
import type { Index, ReadIndex } from '../index/index';
import type { Query } from '../query/query';
import { parseQido } from '../dicomweb/qido-params';
import type { DicomJson } from '../dicom/json';

export type ExportSelection =
  | { kind: 'query'; level: 'study' | 'series'; params: Record<string, string> }
  | { kind: 'studies'; studies: string[] }
  | { kind: 'project'; project: string };

export interface PlannedSeries {
  study: string;
  series: string;
  modality: string;
}

const PROJECT = /^[A-Za-z0-9._-]{1,64}$/;

/** The selection a JSON body names: exactly one of "query", "studies", "project". */
export function exportSelectionOf(body: Record<string, unknown>): ExportSelection {
  const given = ['query', 'studies', 'project'].filter((k) => body[k] !== undefined);
  if (given.length !== 1) throw new VeilgateError('bad-request', 'name what to export: exactly one of "query", "studies" or "project"');
  if (body.query !== undefined) {
    const level = body.level ?? 'series';
    if (level !== 'study' && level !== 'series') throw new VeilgateError('bad-request', '"level" must be "study" or "series"');
    return { kind: 'query', level, params: parseQueryParams(body.query) };
  }
  if (body.studies !== undefined) return { kind: 'studies', studies: parseStudyList(body.studies) };
  if (typeof body.project !== 'string' || !PROJECT.test(body.project)) throw new VeilgateError('bad-request', '"project" must be a project name');
  return { kind: 'project', project: body.project };
}

/** "Modality=CT&SeriesDescription=*thorax*" (the CLI's --query) as QIDO parameters. */
export function parseQueryString(q: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(q)) out[k] = v;
  return out;
}

const seriesQuery = (scope: Query['scope'], limit: number, projects?: readonly string[]): Query => ({ level: 'series', scope, constraints: [], includeFields: [], limit, offset: 0, projects });
const modalityOf = (j: DicomJson): string => String(j['00080060']?.Value?.[0] ?? '');

/** The series a selection names, images first, then the segmentations of the selected images. */
export async function planExport(
  view: ReadIndex & { projects: readonly string[] | undefined },
  index: Pick<Index, 'search'>,
  s: ExportSelection,
  limits: { qidoMaxLimit: number },
): Promise<PlannedSeries[]> {
  const max = limits.qidoMaxLimit;
  const tooMany = () => new VeilgateError('payload-too-large', `the selection holds more than ${max} series: narrow it`);
  const picked = new Map<string, PlannedSeries>();
  const studies = new Set<string>();
  const addStudy = async (study: string) => {
    const found = await view.search(seriesQuery({ study }, max));
    if (found.more) throw tooMany();
    for (const r of found.rows) picked.set(r.seriesUID!, { study: r.studyUID, series: r.seriesUID!, modality: modalityOf(r.json) });
    studies.add(study);
  };
  if (s.kind === 'studies') {
    for (const [n, study] of s.studies.entries()) {
      if (!(await view.exists('study', { study }))) throw new VeilgateError('not-found', `study ${n + 1} of the list is not stored (or not visible)`);
      await addStudy(study);
    }
  } else if (s.kind === 'project') {
    if (view.projects !== undefined && !view.projects.includes(s.project)) throw new VeilgateError('not-found', 'no such project');
    const found = await index.search(seriesQuery({}, max, [s.project]));
    if (found.more) throw tooMany();
    for (const r of found.rows) {
      picked.set(r.seriesUID!, { study: r.studyUID, series: r.seriesUID!, modality: modalityOf(r.json) });
      studies.add(r.studyUID);
    }
  } else {
    const { query } = parseQido(s.level, {}, s.params, { defaultLimit: max, maxLimit: max });
    const found = await view.search(query);
    if (found.more) throw tooMany();
    if (s.level === 'study') for (const r of found.rows) await addStudy(r.studyUID);
    else {
      for (const r of found.rows) {
        picked.set(r.seriesUID!, { study: r.studyUID, series: r.seriesUID!, modality: modalityOf(r.json) });
        studies.add(r.studyUID);
      }
      // The segmentations of the selected series, from their studies.
      for (const study of studies) {
        const all = await view.search(seriesQuery({ study }, max));
        for (const r of all.rows) {
          if (picked.has(r.seriesUID!) || modalityOf(r.json) !== 'SEG') continue;
          const [first] = await view.metadata({ study, series: r.seriesUID! });
          const meta = first ? (JSON.parse(first) as DicomJson) : {};
          const ref = (meta['00081115']?.Value?.[0] as DicomJson | undefined)?.['0020000E']?.Value?.[0];
          const target = typeof ref === 'string' ? picked.get(ref) : undefined;
          if (target && target.modality !== 'SEG') picked.set(r.seriesUID!, { study, series: r.seriesUID!, modality: 'SEG' });
        }
      }
    }
  }
  const out = [...picked.values()];
  if (!out.length) throw new VeilgateError('not-found', 'the selection holds no series');
  if (out.length > max) throw tooMany();
  // Images first, segmentations after: a SEG's label map is made on its image's grid.
  return [...out.filter((p) => p.modality !== 'SEG'), ...out.filter((p) => p.modality === 'SEG')];
}
