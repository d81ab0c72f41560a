/**
 * Registration of a moving volume onto a fixed one with elastix (@itk-wasm/elastix, WebAssembly,
 * on the job's own thread): rigid (Euler), affine or B-spline, elastix's default parameter maps.
 * The result is the moving volume resampled onto the fixed grid, in the fixed volume's frame of
 * reference, and the transform elastix found, for the derived series' DerivationDescription.
 *
 * ITK works in LPS millimetres with an origin, spacing and direction cosines; a Volume's affine
 * maps voxels to RAS. The two differ by a sign on x and y (geometry background: NIfTI affines),
 * converted both ways here, and the voxel order (x fastest) is the same in both.
 */
import type { Affine } from '../convert/geometry';
import type { Volume } from './volume';

export type RegistrationTransform = 'rigid' | 'affine' | 'bspline';

export interface ItkGeometry {
  origin: [number, number, number];
  spacing: [number, number, number];
  /** Row-major 3×3: column j is the direction of voxel axis j, in LPS. */
  direction: Float64Array;
}

/** ITK's geometry of a volume whose affine maps voxels to RAS. */
export function itkGeometry(affine: Affine): ItkGeometry {
  const lps = (r: number) => (r < 2 ? -1 : 1);
  const spacing = [0, 1, 2].map((j) => Math.hypot(affine[0][j], affine[1][j], affine[2][j])) as [number, number, number];
  const direction = new Float64Array(9);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) direction[i * 3 + j] = (lps(i) * affine[i][j]) / spacing[j];
  return { origin: [lps(0) * affine[0][3], lps(1) * affine[1][3], affine[2][3]], spacing, direction };
}

/** A rigid transform as elastix reports it (EulerTransform): x ↦ R(x − c) + c + t, in LPS mm, mapping fixed points to moving points. */
export interface RigidTransform {
  /** Rotations about x, y, z (radians), applied as elastix's Euler3D does (Rz·Rx·Ry). */
  angles: [number, number, number];
  translation: [number, number, number];
  center: [number, number, number];
}

/** The 3×3 rotation of elastix's Euler3D angles (ITK Euler3DTransform, ZXY order). */
export function eulerMatrix([rx, ry, rz]: [number, number, number]): number[][] {
  const [cx, sx, cy, sy, cz, sz] = [Math.cos(rx), Math.sin(rx), Math.cos(ry), Math.sin(ry), Math.cos(rz), Math.sin(rz)];
  const Rx = [[1, 0, 0], [0, cx, -sx], [0, sx, cx]];
  const Ry = [[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]];
  const Rz = [[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]];
  const mul = (a: number[][], b: number[][]) => a.map((row) => [0, 1, 2].map((j) => row[0] * b[0][j] + row[1] * b[1][j] + row[2] * b[2][j]));
  return mul(Rz, mul(Rx, Ry));
}

/** Where a rigid transform sends a point. */
export function applyRigid(t: RigidTransform, p: [number, number, number]): [number, number, number] {
  const R = eulerMatrix(t.angles);
  const d = [p[0] - t.center[0], p[1] - t.center[1], p[2] - t.center[2]];
  return [0, 1, 2].map((i) => R[i][0] * d[0] + R[i][1] * d[1] + R[i][2] * d[2] + t.center[i] + t.translation[i]) as [number, number, number];
}

type ParameterMap = Record<string, string[]>;

/** The rigid transform in elastix's transform parameter map (undefined for another transform). */
export function rigidOf(map: ParameterMap): RigidTransform | undefined {
  if (map.Transform?.[0] !== 'EulerTransform') return undefined;
  const p = (map.TransformParameters ?? []).map(Number);
  const c = (map.CenterOfRotationPoint ?? ['0', '0', '0']).map(Number);
  return { angles: [p[0], p[1], p[2]], translation: [p[3], p[4], p[5]], center: [c[0], c[1], c[2]] };
}

/** The transform found, in one line for DerivationDescription (LO is short: the full map is in the job result). */
export function describeTransform(map: ParameterMap): string {
  const params = (map.TransformParameters ?? []).map((v) => Number(Number(v).toPrecision(5)));
  return `${map.Transform?.[0] ?? 'transform'} [${params.length > 12 ? `${params.length} parameters` : params.join(' ')}]`;
}

/** The elastix module, loaded once per thread (an ES module: imported, not required). */
type ElastixModule = {
  elastixNode(parameterObject: unknown, options: { fixed: unknown; moving: unknown }): Promise<{ result: { data: ArrayLike<number> }; transformParameterObject: ParameterMap[] }>;
  defaultParameterMapNode(transform: string, options?: { numberOfResolutions?: number }): Promise<{ parameterMap: ParameterMap }>;
};
const importModule = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;

function itkImage(v: Volume): unknown {
  const g = itkGeometry(v.affine);
  return {
    imageType: { dimension: 3, componentType: 'float32', pixelType: 'Scalar', components: 1 },
    name: 'image',
    origin: g.origin,
    spacing: g.spacing,
    direction: g.direction,
    size: [...v.dims],
    metadata: new Map(),
    data: v.data,
  };
}

/** Register `moving` onto `fixed`: the moving volume on the fixed grid, and elastix's final transform parameter map. */
export async function registerVolumes(fixed: Volume, moving: Volume, transform: RegistrationTransform): Promise<{ volume: Volume; transform: ParameterMap }> {
  const elastix = (await importModule('@itk-wasm/elastix')) as ElastixModule;
  // B-spline after an affine start, as elastix's examples do: a free-form grid alone would chase noise.
  const stages = transform === 'bspline' ? ['affine', 'bspline'] : [transform];
  const maps = [];
  // Outside the moving volume: its minimum (air for a CT), as resample fills (ITK's DefaultPixelValue is 0, water).
  let min = Infinity;
  for (let i = 0; i < moving.data.length; i++) if (moving.data[i] < min) min = moving.data[i];
  for (const name of stages) {
    const { parameterMap } = await elastix.defaultParameterMapNode(name, { numberOfResolutions: 3 });
    maps.push({ ...parameterMap, DefaultPixelValue: [String(min)], ResultImagePixelType: ['float'] });
  }
  const out = await elastix.elastixNode(maps, { fixed: itkImage(fixed), moving: itkImage(moving) });
  const data = out.result.data instanceof Float32Array ? out.result.data : Float32Array.from(out.result.data);
  if (data.length !== fixed.data.length) throw new Error('elastix answered a volume of another size than the fixed grid');
  return { volume: { dims: [...fixed.dims], affine: fixed.affine.map((r) => [...r]), data }, transform: out.transformParameterObject.at(-1)! };
}
