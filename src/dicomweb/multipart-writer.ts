/**
 * Writes a multipart/related response body part by part, streaming each part (RFC 2387).
 * A client that goes away mid-response ends the writing at once: no wait on a `drain` that
 * never comes, and the part being streamed is destroyed, so no descriptor outlives the request.
 */
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';

/** The client closed the response before it was complete. */
export class ResponseClosed extends Error {
  constructor() {
    super('the client closed the response');
    this.name = 'ResponseClosed';
  }
}

/** Wait until `out` can take more, or fail at once when it is closed or errored. */
export function drained(out: Writable): Promise<void> {
  if (out.destroyed || out.writableEnded) return Promise.reject(new ResponseClosed());
  return new Promise((resolve, reject) => {
    const done = (e?: Error) => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      out.off('error', onClose);
      if (e) reject(e);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new ResponseClosed());
    out.on('drain', onDrain);
    out.on('close', onClose);
    out.on('error', onClose);
  });
}

export class MultipartWriter {
  readonly boundary = `veilgate-${randomBytes(12).toString('hex')}`;
  private started = false;

  constructor(private readonly out: Writable) {}

  contentType(type: string): string {
    return `multipart/related; type="${type}"; boundary=${this.boundary}`;
  }

  private async write(chunk: string | Uint8Array): Promise<void> {
    if (this.out.destroyed) throw new ResponseClosed();
    if (!this.out.write(chunk)) await drained(this.out);
  }

  async part(headers: Record<string, string>, body: Readable | Uint8Array): Promise<void> {
    const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    try {
      await this.write(`${this.started ? '\r\n' : ''}--${this.boundary}\r\n${head}\r\n`);
      this.started = true;
      if (body instanceof Uint8Array) {
        await this.write(body);
        return;
      }
      for await (const chunk of body) await this.write(chunk as Buffer);
    } finally {
      if (!(body instanceof Uint8Array)) body.destroy();
    }
  }

  async end(): Promise<void> {
    await this.write(`${this.started ? '\r\n' : ''}--${this.boundary}--\r\n`);
    this.out.end();
  }
}
