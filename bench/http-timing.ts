/** Timed HTTP GETs, as the benchmarks measure DICOMweb reads. */
import { performance } from 'node:perf_hooks';
import { ms, percentile } from './util';

export const JSON_GZIP = { Accept: 'application/dicom+json', 'Accept-Encoding': 'gzip' };

export const p50p95 = (times: number[]) => `p50 ${ms(percentile(times, 0.5))} ms, p95 ${ms(percentile(times, 0.95))} ms`;

export async function getOk(url: string, headers: Record<string, string>): Promise<Response> {
  const res = await fetch(url, { headers });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return res;
}

/** Time `n` sequential GETs that read the whole body; returns durations, the last body and its headers. */
export async function timeGets(url: string, headers: Record<string, string>, n: number): Promise<{ times: number[]; body: string; headers: Headers }> {
  const times: number[] = [];
  let body = '';
  let last: Headers = new Headers();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await getOk(url, headers);
    body = await res.text();
    times.push(performance.now() - t0);
    last = res.headers;
  }
  return { times, body, headers: last };
}
