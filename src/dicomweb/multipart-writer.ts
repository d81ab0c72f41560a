/** Writes a multipart/related response body part by part, streaming each part (RFC 2387). */
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { once } from 'node:events';

export class MultipartWriter {
  readonly boundary = `veilgate-${randomBytes(12).toString('hex')}`;
  private started = false;

  constructor(private readonly out: Writable) {}

  contentType(type: string): string {
    return `multipart/related; type="${type}"; boundary=${this.boundary}`;
  }

  private async write(chunk: string | Uint8Array): Promise<void> {
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }

  async part(headers: Record<string, string>, body: Readable | Uint8Array): Promise<void> {
    const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    await this.write(`${this.started ? '\r\n' : ''}--${this.boundary}\r\n${head}\r\n`);
    this.started = true;
    if (body instanceof Uint8Array) {
      await this.write(body);
      return;
    }
    for await (const chunk of body) await this.write(chunk as Buffer);
  }

  async end(): Promise<void> {
    await this.write(`${this.started ? '\r\n' : ''}--${this.boundary}--\r\n`);
    this.out.end();
  }
}
