/**
 * STOW-RS clients for throughput benchmarks: the instances split between clients and cut into
 * multipart requests before any clock starts; each client sends its requests one after the
 * other, all clients at once.
 */
import { performance } from 'node:perf_hooks';
import { multipartBody } from './util';

export type StowRequest = { body: Buffer; contentType: string };

/** The instances dealt out to `clients` in contiguous shares, `perRequest` to a request. */
export function stowRequests(instances: readonly Buffer[], clients: number, perRequest: number): StowRequest[][] {
  const share = Math.ceil(instances.length / clients);
  return Array.from({ length: clients }, (_, c) => {
    const mine = instances.slice(c * share, (c + 1) * share);
    const out: StowRequest[] = [];
    for (let i = 0; i < mine.length; i += perRequest) out.push(multipartBody(mine.slice(i, i + perRequest)));
    return out;
  });
}

/** Client c sends requests[c] to `${urls[c]}/studies`; returns the wall-clock seconds until the last answer. */
export async function sendFromClients(urls: readonly string[], requests: readonly StowRequest[][]): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    requests.map(async (mine, c) => {
      for (const r of mine) {
        const res = await fetch(`${urls[c]}/studies`, { method: 'POST', headers: { 'Content-Type': r.contentType, Accept: 'application/dicom+json' }, body: r.body });
        const text = await res.text();
        if (res.status !== 200) throw new Error(`STOW to ${urls[c]}: HTTP ${res.status} ${text.slice(0, 300)}`);
      }
    }),
  );
  return (performance.now() - t0) / 1000;
}
