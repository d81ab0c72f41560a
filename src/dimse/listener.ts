/**
 * The DIMSE listener, started with the HTTP server. It owns its TCP server (dcmjs-dimse's
 * binds every interface; this one binds HOST like the HTTP side) and one SCP per connection.
 */
import net from 'node:net';
import { log as dimseLog } from 'dcmjs-dimse';
import { log } from '../log';
import { DimseDeps, createScpClass, AssociationCounter } from './scp';

export interface DimseListener {
  port: number;
  close(): Promise<void>;
}

export async function startDimse(deps: DimseDeps): Promise<DimseListener> {
  // The library logs commands with their UIDs: never let it write to our logs.
  dimseLog.setLevel('silent');
  const cfg = deps.config.dimse;
  const counter: AssociationCounter = { active: 0 };
  const ScpClass = createScpClass(deps, counter);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const scp = new ScpClass(socket, {
      associationTimeout: cfg.associationTimeoutSeconds * 1000,
      pduTimeout: cfg.associationTimeoutSeconds * 1000,
    }) as unknown as { connected: boolean; on(e: string, f: (err: Error) => void): void };
    scp.connected = true;
    scp.on('networkError', (err) => {
      log.warn('dimse-network-error', { error: err?.name ?? 'error' });
      socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, deps.config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : cfg.port;
  log.info('dimse-listening', { aeTitle: cfg.aeTitle, host: deps.config.host, port });
  return {
    port,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
