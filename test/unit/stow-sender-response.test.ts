/**
 * A STOW-RS remote's answer is read up to a bound: a remote that answers without end (a
 * misconfigured proxy, a hostile endpoint) is cut off at 16 MB and the batch is retried, instead of
 * the sender reading (and the socket staying busy) for as long as the remote keeps talking.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { StowSender } from '../../src/egress/stow-sender';
import type { BlobStore } from '../../src/store/blob-store';
import type { SendItem } from '../../src/egress/senders';

const INSTANCE = Buffer.alloc(1024, 1);

/** A store with one blob: what the sender streams as the request's part. */
const store = {
  stream: async function* () {
    yield INSTANCE;
  },
} as unknown as BlobStore;

const item: SendItem = {
  item: { id: 1, transferId: 't', destination: 'remote', study: '1.2.3', series: '1.2.3.4', instance: '1.2.3.4.5', state: 'sending', attempts: 0 },
  stored: { studyUID: '1.2.3', seriesUID: '1.2.3.4', sopInstanceUID: '1.2.3.4.5', sopClassUID: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxUID: '1.2.840.10008.1.2.1', blobKey: 'k', size: INSTANCE.length, bulk: {} },
};

test('a response without end is cut off at the bound and the batch retried', async () => {
  let written = 0;
  let closed!: () => void;
  const socketClosed = new Promise<void>((resolve) => (closed = resolve));
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/dicom+json' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      const more = () => {
        // Up to 1 GB: far past the bound, and it stops only when the sender hangs up.
        while (written < 1024 * chunk.length && res.write(chunk)) written += chunk.length;
      };
      res.on('drain', more);
      res.on('close', closed);
      more();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const sender = new StowSender({ type: 'dicomweb', name: 'remote', url: `http://127.0.0.1:${port}`, concurrency: 1, batchSize: 1, timeoutSeconds: 30 }, store);
  try {
    const [outcome] = await sender.send([item], new AbortController().signal);
    expect(outcome.ok).toBe(false);
    expect(outcome).toMatchObject({ permanent: false });
    await socketClosed;
    // The sender hung up soon after the bound, long before the remote would have stopped.
    expect(written).toBeLessThan(64 * 1024 * 1024);
  } finally {
    sender.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
