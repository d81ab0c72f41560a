/**
 * The processing operations a job can run, their parameters (validated before a job is
 * queued) and what each produces: an image volume (published as a derived series) or a
 * label volume (published as a DICOM Segmentation).
 */
import { VeilgateError } from '../errors';
import { LabelVolume, Volume } from './volume';
import { Grid, gridAtSpacing, gridOfSize, resample } from './resample';
import { gaussian, median } from './filters';
import { clip, minMax, zscore } from './normalize';
import { HU_PRESETS, close, connectedComponents, largestComponent, open, otsu, regionGrow, threshold } from './segment';

export const OPERATIONS = ['resample', 'normalize', 'denoise', 'segment', 'model'] as const;
export type OperationName = (typeof OPERATIONS)[number];

/** What a segment is, for the SEG's category and type codes (SNOMED CT). */
export const STRUCTURES: Record<string, { label: string; category: Code; type: Code }> = {
  bone: { label: 'Bone', category: { value: '91723000', meaning: 'Anatomical Structure' }, type: { value: '272673000', meaning: 'Bone' } },
  lung: { label: 'Lung', category: { value: '91723000', meaning: 'Anatomical Structure' }, type: { value: '39607008', meaning: 'Lung' } },
  liver: { label: 'Liver', category: { value: '91723000', meaning: 'Anatomical Structure' }, type: { value: '10200004', meaning: 'Liver' } },
  tumour: { label: 'Tumour', category: { value: '49755003', meaning: 'Morphologically Altered Structure' }, type: { value: '108369006', meaning: 'Neoplasm' } },
  'soft-tissue': { label: 'Soft tissue', category: { value: '85756007', meaning: 'Tissue' }, type: { value: '87784001', meaning: 'Soft tissue' } },
  fat: { label: 'Fat', category: { value: '85756007', meaning: 'Tissue' }, type: { value: '55603005', meaning: 'Adipose tissue' } },
  air: { label: 'Air', category: { value: '85756007', meaning: 'Tissue' }, type: { value: '85756007', meaning: 'Tissue' } },
  tissue: { label: 'Tissue', category: { value: '85756007', meaning: 'Tissue' }, type: { value: '85756007', meaning: 'Tissue' } },
};

export interface Code {
  value: string;
  meaning: string;
}

export interface SegmentInfo {
  number: number;
  label: string;
  algorithm: 'AUTOMATIC' | 'SEMIAUTOMATIC';
  algorithmName: string;
  category: Code;
  type: Code;
  /** The structure's key (bone, lung, …) when the segment is one structure: picks its display colour. */
  structure?: string;
}

export type OperationResult =
  | { kind: 'image'; volume: Volume; description: string }
  | { kind: 'segmentation'; labels: LabelVolume; segments: SegmentInfo[]; description: string };

const bad = (msg: string) => new VeilgateError('bad-request', msg);

function num(p: Record<string, unknown>, key: string, opts: { min?: number; optional?: boolean } = {}): number | undefined {
  const v = p[key];
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${key} must be a number`);
  if (opts.min !== undefined && v < opts.min) throw bad(`${key} must be at least ${opts.min}`);
  return v;
}

function triple(p: Record<string, unknown>, key: string, integer: boolean): [number, number, number] | undefined {
  const v = p[key];
  if (v === undefined) return undefined;
  const arr = typeof v === 'number' ? [v, v, v] : v;
  if (!Array.isArray(arr) || arr.length !== 3 || !arr.every((x) => typeof x === 'number' && x > 0 && (!integer || Number.isInteger(x)))) {
    throw bad(`${key} must be a positive ${integer ? 'integer' : 'number'} or three of them`);
  }
  return arr as [number, number, number];
}

function oneOf<T extends string>(p: Record<string, unknown>, key: string, values: readonly T[], fallback?: T): T {
  const v = p[key] ?? fallback;
  if (typeof v !== 'string' || !values.includes(v as T)) throw bad(`${key} must be one of ${values.join(', ')}`);
  return v as T;
}

const SEGMENT_METHODS = ['threshold', 'otsu', 'region-grow'] as const;
const POST = ['largest', 'components', 'open', 'close'] as const;

/** Check parameters and fill defaults; the result is what the job stores and runs. */
export function validateOperation(op: string, raw: unknown): Record<string, unknown> {
  if (!OPERATIONS.includes(op as OperationName)) throw bad(`op must be one of ${OPERATIONS.join(', ')}`);
  if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw))) throw bad('params must be an object');
  const p = { ...((raw ?? {}) as Record<string, unknown>) };
  switch (op as OperationName) {
    case 'resample': {
      const method = oneOf(p, 'method', ['linear', 'nearest'] as const, 'linear');
      const spacing = triple(p, 'spacing', false);
      const size = triple(p, 'size', true);
      const reference = p.reference as { study?: unknown; series?: unknown } | undefined;
      if ([spacing, size, reference].filter((x) => x !== undefined).length !== 1) throw bad('resample needs exactly one of spacing, size or reference');
      if (reference && (typeof reference.study !== 'string' || typeof reference.series !== 'string')) throw bad('reference must be { study, series }');
      return { method, spacing, size, reference };
    }
    case 'normalize': {
      const method = oneOf(p, 'method', ['zscore', 'minmax', 'clip'] as const, 'zscore');
      if (method === 'clip') {
        const low = num(p, 'low')!;
        const high = num(p, 'high')!;
        if (low > high) throw bad('low must not be above high');
        return { method, low, high };
      }
      const mask = p.mask as { low?: unknown; high?: unknown } | undefined;
      if (mask !== undefined && (typeof mask.low !== 'number' || typeof mask.high !== 'number')) throw bad('mask must be { low, high }');
      return { method, mask };
    }
    case 'denoise': {
      const method = oneOf(p, 'method', ['gaussian', 'median'] as const, 'gaussian');
      if (method === 'gaussian') return { method, sigma: num(p, 'sigma', { min: 0.01 }) };
      const radius = num(p, 'radius', { min: 1 })!;
      if (!Number.isInteger(radius) || radius > 5) throw bad('radius must be an integer from 1 to 5');
      return { method, radius };
    }
    case 'model': {
      if (typeof p.model !== 'string') throw bad('model must name a model folder under models/');
      return { model: p.model };
    }
    case 'segment': {
      const method = oneOf(p, 'method', SEGMENT_METHODS, 'threshold');
      const post = (p.post ?? []) as unknown[];
      if (!Array.isArray(post) || !post.every((x) => POST.includes(x as (typeof POST)[number]))) throw bad(`post must be a list of ${POST.join(', ')}`);
      // A preset names its structure too (bone, lung, ...), unless one is given.
      const presetStructure = typeof p.preset === 'string' && STRUCTURES[p.preset] ? p.preset : 'tissue';
      const structure = (p.structure ?? presetStructure) as string;
      if (!STRUCTURES[structure]) throw bad(`structure must be one of ${Object.keys(STRUCTURES).join(', ')}`);
      const out: Record<string, unknown> = { method, post, structure };
      if (method === 'threshold') {
        if (p.preset !== undefined) {
          if (typeof p.preset !== 'string' || !HU_PRESETS[p.preset]) throw bad(`preset must be one of ${Object.keys(HU_PRESETS).join(', ')}`);
          [out.low, out.high] = HU_PRESETS[p.preset];
          out.preset = p.preset;
        } else {
          out.low = num(p, 'low');
          out.high = num(p, 'high');
          if ((out.low as number) > (out.high as number)) throw bad('low must not be above high');
        }
      } else if (method === 'region-grow') {
        const seeds = p.seeds;
        if (!Array.isArray(seeds) || seeds.length === 0 || !seeds.every((s) => Array.isArray(s) && s.length === 3 && s.every((x) => Number.isInteger(x) && x >= 0))) {
          throw bad('seeds must be a list of [i, j, k] voxel indices');
        }
        out.seeds = seeds;
        out.tolerance = num(p, 'tolerance', { min: 0 });
      }
      return out;
    }
  }
}

function describe(op: string, params: Record<string, unknown>): string {
  const shown = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  // "denoise: method=gaussian sigma=1": the series description a viewer lists.
  return shown ? `${op}: ${shown}` : op;
}

/**
 * Run a validated operation. `referenceGrid` is the grid of the reference series for a resample
 * onto another series. Pure computation: no I/O.
 */
export function runOperation(op: string, params: Record<string, unknown>, volume: Volume, referenceGrid?: Grid, onProgress: (p: number) => void = () => undefined): OperationResult {
  const description = describe(op, params);
  onProgress(10);
  switch (op as OperationName) {
    case 'resample': {
      const target = params.spacing
        ? gridAtSpacing(volume, params.spacing as [number, number, number])
        : params.size
          ? gridOfSize(volume, params.size as [number, number, number])
          : referenceGrid!;
      if (!target) throw new VeilgateError('unprocessable', 'the reference series has no grid');
      return { kind: 'image', volume: resample(volume, target, params.method as 'linear' | 'nearest'), description };
    }
    case 'normalize': {
      if (params.method === 'clip') return { kind: 'image', volume: clip(volume, params.low as number, params.high as number), description };
      if (params.method === 'minmax') return { kind: 'image', volume: minMax(volume), description };
      const m = params.mask as { low: number; high: number } | undefined;
      return { kind: 'image', volume: zscore(volume, m ? threshold(volume, m.low, m.high).data : undefined), description };
    }
    case 'denoise':
      return {
        kind: 'image',
        volume: params.method === 'median' ? median(volume, params.radius as number) : gaussian(volume, params.sigma as number),
        description,
      };
    case 'model':
      throw new VeilgateError('unprocessable', 'a model runs asynchronously: use runModel');
    case 'segment': {
      let mask: LabelVolume;
      let algorithmName: string;
      if (params.method === 'otsu') {
        const r = otsu(volume);
        mask = r.mask;
        algorithmName = `Otsu threshold ${r.threshold.toFixed(1)}`;
      } else if (params.method === 'region-grow') {
        mask = regionGrow(volume, params.seeds as [number, number, number][], params.tolerance as number);
        algorithmName = `Region growing, tolerance ${params.tolerance}`;
      } else {
        mask = threshold(volume, params.low as number, params.high as number);
        algorithmName = `Threshold ${params.low} to ${params.high}`;
      }
      onProgress(50);
      const structure = STRUCTURES[params.structure as string];
      let components = false;
      for (const step of params.post as string[]) {
        if (step === 'largest') mask = largestComponent(mask);
        else if (step === 'open') mask = open(mask);
        else if (step === 'close') mask = close(mask);
        else components = true;
        algorithmName += `, ${step}`;
      }
      const segment = (n: number, suffix = '', named = true): SegmentInfo => ({
        number: n,
        structure: named ? (params.structure as string) : undefined,
        label: `${structure.label}${suffix}`,
        algorithm: params.method === 'region-grow' ? 'SEMIAUTOMATIC' : 'AUTOMATIC',
        algorithmName: algorithmName.slice(0, 64),
        category: structure.category,
        type: structure.type,
      });
      if (!components) return { kind: 'segmentation', labels: mask, segments: [segment(1)], description };
      // Every connected component becomes a segment of its own (up to 255).
      const cc = connectedComponents(mask);
      if (cc.count > 255) throw new VeilgateError('unprocessable', `${cc.count} components: at most 255 segments; add 'largest' or an 'open' step`);
      return {
        kind: 'segmentation',
        labels: { dims: mask.dims, affine: mask.affine, data: Uint8Array.from(cc.labels) },
        // Components are told apart by colour, so each takes the next colour of the palette.
        segments: Array.from({ length: cc.count }, (_, i) => segment(i + 1, ` ${i + 1}`, false)),
        description,
      };
    }
  }
  throw bad(`unknown op ${op}`);
}

/** The segments a model's labels stand for, from its config. */
export function modelSegments(name: string, labels: { value: number; structure: string; label?: string }[]): SegmentInfo[] {
  return labels.map((l) => ({
    number: l.value,
    label: l.label ?? STRUCTURES[l.structure].label,
    algorithm: 'AUTOMATIC',
    algorithmName: `ONNX model ${name}`.slice(0, 64),
    category: STRUCTURES[l.structure].category,
    type: STRUCTURES[l.structure].type,
    structure: l.structure,
  }));
}
