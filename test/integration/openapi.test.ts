/**
 * /api/openapi.json against the gateway itself: every route express has registered under /api is
 * described (method and path), every described operation is registered, path parameters are
 * declared, and real answers (a job, a NIfTI POST's new series) carry exactly the keys their
 * schemas name, all camelCase.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startTestGateway, TestGateway, SHARED_DATA } from '../support/gateway';
import { registeredRoutes } from '../support/routes';

jest.setTimeout(120_000);

type Json = Record<string, { Value?: unknown[] }>;
interface SchemaObject {
  type?: string;
  required?: string[];
  properties?: Record<string, unknown>;
  additionalProperties?: boolean;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; responses?: Record<string, unknown> }> & { parameters?: { name: string; in: string }[] }>;
  components: { schemas: Record<string, SchemaObject> };
}

const METHODS = ['get', 'post', 'put', 'delete', 'patch'];

/** Keys of a value that its schema does not allow, and required keys it lacks. */
function mismatches(value: Record<string, unknown>, schema: SchemaObject, where: string): string[] {
  const out: string[] = [];
  for (const k of Object.keys(value)) if (value[k] !== undefined && !(k in (schema.properties ?? {}))) out.push(`${where}: key "${k}" is not in the schema`);
  for (const k of schema.required ?? []) if (value[k] === undefined) out.push(`${where}: required key "${k}" is missing`);
  return out;
}

describe('OpenAPI description of /api', () => {
  let gw: TestGateway;
  let doc: Document;
  const origin = () => gw.url.replace(/\/dicom-web$/, '');

  beforeAll(async () => {
    gw = await startTestGateway();
    const res = await fetch(`${origin()}/api/openapi.json`);
    expect(res.status).toBe(200);
    doc = (await res.json()) as Document;
  });
  afterAll(() => gw?.close());

  test('describes exactly the routes registered under /api, with their path parameters', () => {
    expect(doc.openapi).toBe('3.1.0');
    const registered = registeredRoutes(gw.gateway.app)
      .filter((r) => r.path.startsWith('/api/'))
      .map((r) => `${r.method} ${r.path.slice('/api'.length).replace(/\/$/, '').replace(/:(\w+)/g, '{$1}')}`)
      .sort();
    const described: string[] = [];
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const m of METHODS) {
        const op = item[m];
        if (!op) continue;
        described.push(`${m.toUpperCase()} ${p}`);
        const declared = new Set([...(item.parameters ?? []), ...(op.parameters ?? [])].filter((x) => x.in === 'path').map((x) => x.name));
        const inPath = [...p.matchAll(/\{(\w+)\}/g)].map((x) => x[1]);
        expect([`${m} ${p}`, [...declared].sort()]).toEqual([`${m} ${p}`, inPath.sort()]);
        expect(Object.keys(op.responses ?? {}).length).toBeGreaterThan(0);
      }
    }
    expect(described.sort()).toEqual(registered);
  });

  test('a job and a NIfTI POST answer exactly the keys of their schemas, in camelCase', async () => {
    const folder = path.join(SHARED_DATA, 'dcm_qa_ct/In/Philips/S21570/S2010');
    for (const f of fs.readdirSync(folder).filter((n) => n !== 'DIRFILE')) {
      const res = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: fs.readFileSync(path.join(folder, f)) });
      expect(res.status).toBe(200);
    }
    const [s] = (await (await fetch(`${gw.url}/series`)).json()) as Json[];
    const study = String(s['0020000D'].Value![0]);
    const series = String(s['0020000E'].Value![0]);
    const posted = await fetch(`${origin()}/api/jobs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ op: 'normalize', input: { study, series }, params: { method: 'minmax' } }),
    });
    expect(posted.status).toBe(202);
    let job = (await posted.json()) as Record<string, unknown>;
    const until = Date.now() + 60_000;
    while (job.state !== 'done' && job.state !== 'failed' && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
      job = (await (await fetch(`${origin()}/api/jobs/${job.id}`)).json()) as Record<string, unknown>;
    }
    expect(job.state).toBe('done');
    const schemas = doc.components.schemas;
    const problems = mismatches(job, schemas.Job, 'job');
    for (const r of job.result as Record<string, unknown>[]) problems.push(...mismatches(r, schemas.ResultSeries, 'job result'));
    const nifti = await fetch(`${origin()}/api/studies/${study}/series/${series}/nifti?format=nii`);
    expect(nifti.status).toBe(200);
    const made = await fetch(`${origin()}/api/studies/${study}/series/${series}/nifti?description=roundtrip`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: Buffer.from(await nifti.arrayBuffer()) });
    expect(made.status).toBe(201);
    const created = (await made.json()) as Record<string, unknown>;
    problems.push(...mismatches(created, schemas.ResultSeries, 'nifti post'));
    expect(problems).toEqual([]);
    const keys = [...Object.keys(job), ...Object.keys(created)];
    expect(keys.filter((k) => !/^[a-z][A-Za-z0-9]*$/.test(k))).toEqual([]);
  });
});
