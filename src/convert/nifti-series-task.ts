/**
 * A posted NIfTI volume turned into derived DICOM instances, as a worker task: gunzip and
 * read the volume (bounded), check its grid against the series', clean the description the
 * client typed, reslice into instances modelled on a source instance, and encode each as
 * PS3.10 for the one ingest path. Nothing here reads the index or the store.
 */
import { readNifti } from './nifti';
import { Affine, flipXY, matchGrid } from './geometry';
import { SliceStack } from './series-geometry';
import { volumeToDicomSeries } from './volume-to-dicom';
import { parsePart10 } from '../dicom/parse';
import { encodeDerived } from '../dicom/encode';
import { cleanClientText } from '../deid/clean-text';

export interface Grid {
  dims: number[];
  affine: Affine;
}

export interface NiftiSeriesTaskInput {
  nifti: Uint8Array;
  maxBytes: number;
  stack?: SliceStack;
  /** The grids of the series' own NIfTI conversions: a volume on one of them fits too. */
  conversionGrids?: Grid[];
  /** The first stored instance of the series, as a model for the derived ones. */
  source: Uint8Array;
  sourceSeriesUID: string;
  sourceInstances: { sopClassUID: string; sopInstanceUID: string }[];
  /** The description from the query string, if the client gave one. */
  description?: string;
}

export type NiftiSeriesTaskOutput =
  | { ok: true; instances: Uint8Array[] }
  /** The volume fits no grid known to the task: the caller may offer the conversions' grids. */
  | { ok: false; grid: Grid };

function fits(maps: ReturnType<typeof matchGrid>, dims: number[], target: number[]): boolean {
  return !!maps && maps.every((m, axis) => dims[axis] === target[m.axis] && (m.sign > 0 ? m.offset === 0 : m.offset === target[m.axis] - 1));
}

export async function niftiSeriesTask(input: NiftiSeriesTaskInput): Promise<NiftiSeriesTaskOutput> {
  const volume = readNifti(input.nifti, input.maxBytes);
  const dims = volume.dims.slice(0, 3);
  const { stack } = input;
  const onStack = !!stack && fits(matchGrid(flipXY(volume.affine), stack.affine), dims, [stack.columns, stack.rows, stack.slices.length]);
  const onConversion = (input.conversionGrids ?? []).some((g) => fits(matchGrid(volume.affine, g.affine), dims, g.dims.slice(0, 3)));
  if (!onStack && !onConversion) return { ok: false, grid: { dims: volume.dims, affine: volume.affine } };
  const source = parsePart10(Buffer.from(input.source.buffer, input.source.byteOffset, input.source.byteLength)).dataset;
  // Text a client typed (the query string, the NIfTI header's descrip) is cleaned like any description.
  const typed = input.description ?? volume.description ?? '';
  const description = cleanClientText(typed.slice(0, 1024)) || 'NIfTI volume';
  const datasets = volumeToDicomSeries({
    volume,
    source,
    stack,
    sourceSeriesUID: input.sourceSeriesUID,
    sourceInstances: input.sourceInstances,
    seriesDescription: `Derived: ${description}`,
    derivationDescription: `Volume posted as NIfTI (${dims.join('x')}, ${description}) and resliced onto its own grid`,
  });
  const instances = datasets.map(encodeDerived);
  return { ok: true, instances };
}
