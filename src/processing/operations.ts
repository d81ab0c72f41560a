/**
 * The processing operations a job can run, their parameters (validated before a job is
 * queued) and what each produces: an image volume (published as a derived series) or a
 * label volume (published as a DICOM Segmentation).
 */
import type { RegistrationTransform } from './register';
import { VeilgateError } from '../errors';
import { LabelVolume, Volume } from './volume';
import { Grid, gridAtSpacing, gridOfSize, resample } from './resample';
import { gaussian, median } from './filters';
import { clip, minMax, zscore } from './normalize';
import { HU_PRESETS, close, connectedComponents, largestComponent, open, otsu, regionGrow, threshold } from './segment';

export const OPERATIONS = ['resample', 'normalize', 'denoise', 'segment', 'model', 'register'] as const;
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

type Triple = [number, number, number];
export type SegmentStep = 'largest' | 'components' | 'open' | 'close';

/** A validated operation: what a job stores and runs. Only these fields survive validation. */
export type OperationSpec =
  /** `fill`: the value outside the source (ITK's DefaultPixelValue); by default the source's minimum. */
  | { op: 'resample'; method: 'linear' | 'nearest'; spacing?: Triple; size?: Triple; reference?: { study: string; series: string }; fill?: number }
  | { op: 'normalize'; method: 'zscore'; mask?: { low: number; high: number } }
  | { op: 'normalize'; method: 'minmax' }
  | { op: 'normalize'; method: 'clip'; low: number; high: number }
  | { op: 'denoise'; method: 'gaussian'; sigma: number }
  | { op: 'denoise'; method: 'median'; radius: number }
  | { op: 'segment'; method: 'threshold'; low: number; high: number; preset?: string; post: SegmentStep[]; structure: string }
  | { op: 'segment'; method: 'otsu'; post: SegmentStep[]; structure: string }
  | { op: 'segment'; method: 'region-grow'; seeds: Triple[]; tolerance: number; post: SegmentStep[]; structure: string }
  | { op: 'model'; model: string }
  /** The job's series (moving) registered onto `fixed` with elastix; the result lies on the fixed grid. */
  | { op: 'register'; transform: RegistrationTransform; fixed: { study: string; series: string } };

function num(p: Record<string, unknown>, key: string, opts: { min?: number } = {}): number {
  const v = p[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${key} must be a number`);
  if (opts.min !== undefined && v < opts.min) throw bad(`${key} must be at least ${opts.min}`);
  return v;
}

function triple(p: Record<string, unknown>, key: string, integer: boolean): Triple | undefined {
  const v = p[key];
  if (v === undefined) return undefined;
  const arr = typeof v === 'number' ? [v, v, v] : v;
  if (!Array.isArray(arr) || arr.length !== 3 || !arr.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0 && (!integer || Number.isInteger(x)))) {
    throw bad(`${key} must be a positive ${integer ? 'integer' : 'number'} or three of them`);
  }
  return [arr[0], arr[1], arr[2]];
}

function oneOf<T extends string>(p: Record<string, unknown>, key: string, values: readonly T[], fallback?: T): T {
  const v = p[key] ?? fallback;
  if (typeof v !== 'string' || !values.includes(v as T)) throw bad(`${key} must be one of ${values.join(', ')}`);
  return v as T;
}

const SEGMENT_METHODS = ['threshold', 'otsu', 'region-grow'] as const;
const POST: readonly SegmentStep[] = ['largest', 'components', 'open', 'close'];
/** A model is a folder under DATA_DIR/models: one path component, nothing that could climb out. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const UID = /^[0-9]+(\.[0-9]+)*$/;

/**
 * Check parameters, fill defaults and keep only what the operation uses: a client's extra
 * fields (free text among them) never reach the job record or a derived object.
 */
export function validateOperation(op: string, raw: unknown): OperationSpec {
  if (!OPERATIONS.includes(op as OperationName)) throw bad(`op must be one of ${OPERATIONS.join(', ')}`);
  if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw))) throw bad('params must be an object');
  const p = { ...((raw ?? {}) as Record<string, unknown>) };
  const name = op as OperationName;
  switch (name) {
    case 'resample': {
      const method = oneOf(p, 'method', ['linear', 'nearest'] as const, 'linear');
      const spacing = triple(p, 'spacing', false);
      const size = triple(p, 'size', true);
      const ref = p.reference as { study?: unknown; series?: unknown } | undefined;
      if ([spacing, size, ref].filter((x) => x !== undefined).length !== 1) throw bad('resample needs exactly one of spacing, size or reference');
      const fill = p.fill === undefined ? {} : { fill: num(p, 'fill') };
      if (ref !== undefined) {
        const ok = (u: unknown): u is string => typeof u === 'string' && u.length <= 64 && UID.test(u);
        if (typeof ref !== 'object' || ref === null || !ok(ref.study) || !ok(ref.series)) throw bad('reference must be { study, series } UIDs');
        return { op: name, method, reference: { study: ref.study, series: ref.series }, ...fill };
      }
      return spacing ? { op: name, method, spacing, ...fill } : { op: name, method, size, ...fill };
    }
    case 'normalize': {
      const method = oneOf(p, 'method', ['zscore', 'minmax', 'clip'] as const, 'zscore');
      if (method === 'clip') {
        const low = num(p, 'low');
        const high = num(p, 'high');
        if (low > high) throw bad('low must not be above high');
        return { op: name, method, low, high };
      }
      if (method === 'minmax') return { op: name, method };
      const mask = p.mask as Record<string, unknown> | undefined;
      if (mask === undefined) return { op: name, method };
      if (typeof mask !== 'object' || mask === null) throw bad('mask must be { low, high }');
      return { op: name, method, mask: { low: num(mask, 'low'), high: num(mask, 'high') } };
    }
    case 'denoise': {
      const method = oneOf(p, 'method', ['gaussian', 'median'] as const, 'gaussian');
      if (method === 'gaussian') return { op: name, method, sigma: num(p, 'sigma', { min: 0.01 }) };
      const radius = num(p, 'radius', { min: 1 });
      if (!Number.isInteger(radius) || radius > 5) throw bad('radius must be an integer from 1 to 5');
      return { op: name, method, radius };
    }
    case 'register': {
      const transform = oneOf(p, 'transform', ['rigid', 'affine', 'bspline'] as const, 'rigid');
      const fixed = p.fixed as { study?: unknown; series?: unknown } | undefined;
      const ok = (u: unknown): u is string => typeof u === 'string' && u.length <= 64 && UID.test(u);
      if (typeof fixed !== 'object' || fixed === null || !ok(fixed.study) || !ok(fixed.series)) throw bad('fixed must be { study, series } UIDs');
      return { op: name, transform, fixed: { study: fixed.study, series: fixed.series } };
    }
    case 'model': {
      if (typeof p.model !== 'string' || !MODEL_NAME.test(p.model)) throw bad('model must name a model folder under models/ (letters, digits, . _ -)');
      return { op: name, model: p.model };
    }
    case 'segment': {
      const method = oneOf(p, 'method', SEGMENT_METHODS, 'threshold');
      const post = (p.post ?? []) as unknown[];
      if (!Array.isArray(post) || !post.every((x) => POST.includes(x as SegmentStep))) throw bad(`post must be a list of ${POST.join(', ')}`);
      const steps = post as SegmentStep[];
      // A preset names its structure too (bone, lung, ...), unless one is given.
      const presetStructure = typeof p.preset === 'string' && STRUCTURES[p.preset] ? p.preset : 'tissue';
      const structure = p.structure ?? presetStructure;
      if (typeof structure !== 'string' || !STRUCTURES[structure]) throw bad(`structure must be one of ${Object.keys(STRUCTURES).join(', ')}`);
      if (method === 'otsu') return { op: name, method, post: steps, structure };
      if (method === 'region-grow') {
        const seeds = p.seeds;
        if (!Array.isArray(seeds) || seeds.length === 0 || !seeds.every((s) => Array.isArray(s) && s.length === 3 && s.every((x) => Number.isInteger(x) && x >= 0))) {
          throw bad('seeds must be a list of [i, j, k] voxel indices');
        }
        return { op: name, method, seeds: seeds.map((s) => [s[0], s[1], s[2]] as Triple), tolerance: num(p, 'tolerance', { min: 0 }), post: steps, structure };
      }
      if (p.preset !== undefined) {
        if (typeof p.preset !== 'string' || !HU_PRESETS[p.preset]) throw bad(`preset must be one of ${Object.keys(HU_PRESETS).join(', ')}`);
        const [low, high] = HU_PRESETS[p.preset];
        return { op: name, method, low, high, preset: p.preset, post: steps, structure };
      }
      const low = num(p, 'low');
      const high = num(p, 'high');
      if (low > high) throw bad('low must not be above high');
      return { op: name, method, low, high, post: steps, structure };
    }
  }
}

/**
 * A resample to a given size is bounded before it is queued; one to a spacing or a reference
 * grid is bounded when its grid is known (`checkGridSize`, in the worker).
 */
export function checkOutputSize(spec: OperationSpec, maxVoxels: number): void {
  if (spec.op === 'resample' && spec.size) checkGridSize(spec.size, maxVoxels);
}

export function checkGridSize(dims: readonly number[], maxVoxels: number): void {
  const voxels = dims[0] * dims[1] * dims[2];
  if (voxels > maxVoxels) throw new VeilgateError('bad-request', `the result would have ${voxels} voxels, over the ${maxVoxels}-voxel limit for a job`);
}

/** What a job stores as its parameters: the spec without its op. */
export function specParams(spec: OperationSpec): Record<string, unknown> {
  const { op: _op, ...params } = spec;
  return params;
}

/** A stored job's operation, typed again (a record written by an older version is checked as new input). */
export function specOf(op: string, params: Record<string, unknown>): OperationSpec {
  return validateOperation(op, params);
}

function formatValue(v: unknown): string {
  if (typeof v === 'number') return String(Number(v.toPrecision(6)));
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map(formatValue).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${k}:${formatValue(x)}`).join(',')}}`;
  return String(v);
}

/** "denoise: method=gaussian sigma=1": the series description a viewer lists, from the typed spec alone. */
export function describeOperation(spec: OperationSpec): string {
  // A registration's fixed series is where its result lies, not a word for its description.
  if (spec.op === 'register') return `register: transform=${spec.transform}`;
  const shown = Object.entries(specParams(spec))
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
  return shown ? `${spec.op}: ${shown}` : spec.op;
}

/**
 * Run a validated operation. `referenceGrid` is the grid of the reference series for a resample
 * onto another series. Pure computation: no I/O.
 */
export function runOperation(spec: OperationSpec, volume: Volume, referenceGrid?: Grid, onProgress: (p: number) => void = () => undefined, maxVoxels = Infinity): OperationResult {
  const description = describeOperation(spec);
  onProgress(10);
  switch (spec.op) {
    case 'resample': {
      const target = spec.spacing ? gridAtSpacing(volume, spec.spacing) : spec.size ? gridOfSize(volume, spec.size) : referenceGrid;
      if (!target) throw new VeilgateError('unprocessable', 'the reference series has no grid');
      checkGridSize(target.dims, maxVoxels);
      return { kind: 'image', volume: resample(volume, target, spec.method, spec.fill), description };
    }
    case 'normalize': {
      if (spec.method === 'clip') return { kind: 'image', volume: clip(volume, spec.low, spec.high), description };
      if (spec.method === 'minmax') return { kind: 'image', volume: minMax(volume), description };
      const m = spec.mask;
      return { kind: 'image', volume: zscore(volume, m ? threshold(volume, m.low, m.high).data : undefined), description };
    }
    case 'denoise':
      return { kind: 'image', volume: spec.method === 'median' ? median(volume, spec.radius) : gaussian(volume, spec.sigma), description };
    case 'model':
      throw new VeilgateError('unprocessable', 'a model runs asynchronously: use runModel');
    case 'register':
      throw new VeilgateError('unprocessable', 'a registration runs asynchronously: use registerVolumes');
    case 'segment': {
      let mask: LabelVolume;
      let algorithmName: string;
      if (spec.method === 'otsu') {
        const r = otsu(volume);
        mask = r.mask;
        algorithmName = `Otsu threshold ${r.threshold.toFixed(1)}`;
      } else if (spec.method === 'region-grow') {
        mask = regionGrow(volume, spec.seeds, spec.tolerance);
        algorithmName = `Region growing, tolerance ${spec.tolerance}`;
      } else {
        mask = threshold(volume, spec.low, spec.high);
        algorithmName = `Threshold ${spec.low} to ${spec.high}`;
      }
      onProgress(50);
      const structure = STRUCTURES[spec.structure];
      let components = false;
      for (const step of spec.post) {
        if (step === 'largest') mask = largestComponent(mask);
        else if (step === 'open') mask = open(mask);
        else if (step === 'close') mask = close(mask);
        else components = true;
        algorithmName += `, ${step}`;
      }
      const segment = (n: number, suffix = '', named = true): SegmentInfo => ({
        number: n,
        structure: named ? spec.structure : undefined,
        label: `${structure.label}${suffix}`,
        algorithm: spec.method === 'region-grow' ? 'SEMIAUTOMATIC' : 'AUTOMATIC',
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
