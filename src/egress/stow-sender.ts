/**
 * STOW-RS (PS3.18 10.5) to a remote DICOMweb server: one multipart/related request per batch,
 * its parts streamed from the BlobStore one after another (a batch is never held in memory; the
 * Content-Length is known from the index's sizes), with bearer or basic authentication and an
 * optional CA for the remote's certificate.
 *
 * node:http(s) rather than fetch: Node 20's fetch takes no per-request CA without the undici
 * package, and a per-destination CA is the point of `tls.ca`.
 *
 * An instance counts as sent only when the response lists it in ReferencedSOPSequence
 * (0008,1199) — on 200, 202 or 409 alike. A FailedSOPSequence entry with FailureReason 0x0111
 * (duplicate SOP instance) counts as sent only when a QIDO-RS search of the remote then finds
 * that SOP Instance UID in its series: the remote must show that it holds it. Out of resources
 * (0xA7xx) and processing failures (0x0110) are retried; any other failure reason is the
 * remote refusing the instance itself, and fails it at once. A response that names an instance
 * in neither sequence, any other HTTP status, and every network failure are retried.
 */
import http from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobStore } from '../store/blob-store';
import type { DicomwebDestination } from './config';
import { BatchSender, ItemOutcome, SendItem, errorReason, hex4, refuse, retry } from './senders';

/** The largest response body read (a STOW response names UIDs and statuses only). */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

interface Answer {
  status: number;
  body: Buffer;
}

type JsonDataset = Record<string, { vr?: string; Value?: unknown[] }>;

function first(ds: JsonDataset | undefined, tag: string): unknown {
  return ds?.[tag]?.Value?.[0];
}

export class StowSender implements BatchSender {
  private readonly agent: http.Agent;

  constructor(
    private readonly d: DicomwebDestination,
    private readonly store: BlobStore,
  ) {
    this.agent = d.url.startsWith('https:') ? new https.Agent({ keepAlive: true, ca: d.ca, maxSockets: d.concurrency + 1 }) : new http.Agent({ keepAlive: true, maxSockets: d.concurrency + 1 });
  }

  close(): void {
    this.agent.destroy();
  }

  private headers(extra: Record<string, string | number>): Record<string, string | number> {
    const h: Record<string, string | number> = { ...extra };
    const a = this.d.auth;
    if (a && 'bearer' in a) h.Authorization = `Bearer ${a.bearer}`;
    else if (a) h.Authorization = `Basic ${Buffer.from(`${a.basic.user}:${a.basic.password}`).toString('base64')}`;
    return h;
  }

  private request(method: string, path: string, headers: Record<string, string | number>, body: Readable | undefined, signal: AbortSignal): Promise<Answer> {
    const url = new URL(this.d.url + path);
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise<Answer>((resolve, reject) => {
      const req = lib.request(url, { method, headers: this.headers(headers), agent: this.agent, signal, timeout: this.d.timeoutSeconds * 1000 }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(c);
          // A remote that answers without end is not read to its end: the batch is retried.
          else res.destroy(new Error(`the response is over ${MAX_RESPONSE_BYTES / 2 ** 20} MB`));
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      if (!body) {
        req.end();
        return;
      }
      // A failing body stream (a blob that cannot be read) fails the request too.
      pipeline(body, req).catch((e: unknown) => req.destroy(e as Error));
    });
  }

  async send(items: readonly SendItem[], signal: AbortSignal): Promise<ItemOutcome[]> {
    const boundary = `veilgate-${randomUUID()}`;
    const heads = items.map(() => Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`));
    const crlf = Buffer.from('\r\n');
    const tail = Buffer.from(`--${boundary}--\r\n`);
    const length = items.reduce((n, it, i) => n + heads[i].length + it.stored.size + crlf.length, tail.length);
    const store = this.store;
    async function* parts(): AsyncGenerator<Buffer> {
      for (const [i, it] of items.entries()) {
        yield heads[i];
        for await (const chunk of store.stream(it.stored.blobKey)) yield chunk as Buffer;
        yield crlf;
      }
      yield tail;
    }
    let answer: Answer;
    try {
      answer = await this.request(
        'POST',
        '/studies',
        { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`, 'Content-Length': length, Accept: 'application/dicom+json' },
        Readable.from(parts()),
        signal,
      );
    } catch (e) {
      return items.map(() => retry(errorReason(e)));
    }
    if (answer.status !== 200 && answer.status !== 202 && answer.status !== 409) return items.map(() => retry(`HTTP ${answer.status}`));
    let ds: JsonDataset | undefined;
    try {
      const parsed = JSON.parse(answer.body.toString('utf8')) as JsonDataset | JsonDataset[];
      ds = Array.isArray(parsed) ? parsed[0] : parsed;
    } catch {
      return items.map(() => retry(`HTTP ${answer.status} without a readable STOW-RS response`));
    }
    const referenced = new Set<string>();
    for (const r of (ds?.['00081199']?.Value ?? []) as JsonDataset[]) referenced.add(String(first(r, '00081155') ?? ''));
    const failed = new Map<string, number>();
    for (const f of (ds?.['00081198']?.Value ?? []) as JsonDataset[]) failed.set(String(first(f, '00081155') ?? ''), Number(first(f, '00081197') ?? 0xc000));
    const out: ItemOutcome[] = [];
    for (const it of items) {
      const uid = it.item.instance;
      if (referenced.has(uid)) {
        out.push({ ok: true });
        continue;
      }
      const reason = failed.get(uid);
      if (reason === undefined) out.push(retry(`HTTP ${answer.status}: not in the response's ReferencedSOPSequence`));
      else if (reason === 0x0111) out.push(await this.verifyDuplicate(it, signal));
      else if ((reason & 0xff00) === 0xa700 || reason === 0x0110) out.push(retry(`remote failure ${hex4(reason)}`));
      else out.push(refuse(`remote refused the instance: ${hex4(reason)}`));
    }
    return out;
  }

  /** A duplicate counts as sent only if the remote, asked, lists that instance in its series. */
  private async verifyDuplicate(it: SendItem, signal: AbortSignal): Promise<ItemOutcome> {
    const { study, series, instance } = it.item;
    try {
      const a = await this.request('GET', `/studies/${study}/series/${series}/instances?SOPInstanceUID=${instance}`, { Accept: 'application/dicom+json' }, undefined, signal);
      if (a.status === 200) {
        const rows = JSON.parse(a.body.toString('utf8')) as JsonDataset[];
        if (Array.isArray(rows) && rows.some((r) => first(r, '00080018') === instance)) return { ok: true };
      }
      return retry(`remote reported a duplicate (0x0111) but does not list the instance (QIDO-RS HTTP ${a.status})`);
    } catch (e) {
      return retry(`remote reported a duplicate (0x0111); checking it failed: ${errorReason(e)}`);
    }
  }
}
