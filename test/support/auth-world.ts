/**
 * A gateway with AUTH=keys and two projects, A and B, each holding one synthetic study sent by
 * its own ingest key; and keys of every role, for the access-control tests. The studies' stored
 * UIDs are learnt the way a reader learns them (QIDO with a read key), never from the sender.
 */
import { loadAuthConfig, AuthConfig } from '../../src/auth/config';
import { Role } from '../../src/auth/principal';
import { syntheticInstance, randomUid } from '../../src/synthetic/instances';
import { multipartBody, startTestGateway, TestGateway } from './gateway';
import type { Config } from '../../src/config';

export type KeyName = 'ingestA' | 'ingestB' | 'readA' | 'readB' | 'processA' | 'adminAll' | 'everythingA';

const GRANTS: Record<KeyName, { roles: Role[]; projects: string[] }> = {
  ingestA: { roles: ['ingest'], projects: ['A'] },
  ingestB: { roles: ['ingest'], projects: ['B'] },
  readA: { roles: ['read'], projects: ['A'] },
  readB: { roles: ['read'], projects: ['B'] },
  processA: { roles: ['process', 'read'], projects: ['A'] },
  adminAll: { roles: ['admin'], projects: ['*'] },
  everythingA: { roles: ['ingest', 'read', 'process', 'admin'], projects: ['A'] },
};

export interface StoredStudy {
  study: string;
  series: string;
  instance: string;
  /** A BulkDataURI path segment of the instance (its pixel data). */
  bulkPath: string;
  /** What was sent: the original identifiers. */
  original: { study: string; series: string; patientID: string; studyDate: string };
}

export interface AuthWorld {
  gw: TestGateway;
  /** http://127.0.0.1:PORT */
  origin: string;
  keys: Record<KeyName, string>;
  A: StoredStudy;
  B: StoredStudy;
  /** fetch with the key's bearer token (none for undefined). */
  request(key: string | undefined, path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export async function keysAuth(extra: Parameters<typeof loadAuthConfig>[0] = {}): Promise<AuthConfig> {
  return loadAuthConfig({ mode: 'keys', ...extra }, {}, '127.0.0.1');
}

export async function startAuthWorld(overrides: Partial<Config> = {}, slices = 4): Promise<AuthWorld> {
  // Failed attempts are many here by design: the limit has its own test.
  const gw = await startTestGateway({ auth: await keysAuth({ failuresPerMinute: 100_000 }), ...overrides });
  const origin = gw.url.replace(/\/dicom-web$/, '');
  const keys = {} as Record<KeyName, string>;
  for (const [name, grant] of Object.entries(GRANTS) as [KeyName, (typeof GRANTS)[KeyName]][]) {
    keys[name] = (await gw.gateway.keys.add(name, grant.roles, grant.projects)).key;
  }
  const request = (key: string | undefined, path: string, init: RequestInit = {}) =>
    fetch(path.startsWith('http') ? path : origin + path, { ...init, headers: { ...(key ? { Authorization: `Bearer ${key}` } : {}), ...((init.headers as Record<string, string>) ?? {}) } });

  const store = async (sender: string, reader: string, patientID: string): Promise<StoredStudy> => {
    const original = { study: randomUid(), series: randomUid(), patientID, studyDate: '20230415' };
    const parts = [];
    for (let i = 1; i <= slices; i++) {
      parts.push(syntheticInstance({ studyUID: original.study, seriesUID: original.series, patientID, patientName: `Person^${patientID}`, studyDate: original.studyDate, instanceNumber: i, rows: 16, columns: 16 }).bytes);
    }
    const { body, contentType } = multipartBody(parts);
    const stow = await request(sender, '/dicom-web/studies', { method: 'POST', headers: { 'Content-Type': contentType }, body });
    if (stow.status !== 200) throw new Error(`setup STOW answered ${stow.status}: ${await stow.text()}`);
    const found = (await (await request(reader, `/dicom-web/instances?PatientID=${encodeURIComponent('*')}&limit=1000`)).json()) as Record<string, { Value?: string[] }>[];
    const mine = found.filter((m) => !known.has(m['0020000D'].Value![0]));
    const study = mine[0]['0020000D'].Value![0];
    known.add(study);
    const series = mine[0]['0020000E'].Value![0];
    const instance = mine[0]['00080018'].Value![0];
    const metadata = (await (await request(reader, `/dicom-web/studies/${study}/series/${series}/instances/${instance}/metadata`)).json()) as Record<string, { BulkDataURI?: string }>[];
    const bulk = Object.values(metadata[0]).find((v) => v.BulkDataURI)?.BulkDataURI ?? '';
    return { study, series, instance, bulkPath: bulk.split('/bulk/')[1] ?? '', original };
  };
  const known = new Set<string>();
  const A = await store(keys.ingestA, keys.readA, 'MRN-A-1001');
  const B = await store(keys.ingestB, keys.readB, 'MRN-B-2002');
  return { gw, origin, keys, A, B, request, close: () => gw.close() };
}
