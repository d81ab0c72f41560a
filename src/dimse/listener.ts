/**
 * The DIMSE listener, started with the HTTP server. It owns its TCP server (dcmjs-dimse's
 * binds every interface; this one binds HOST like the HTTP side) and one SCP per connection,
 * each behind a PDU gate (gate.ts) that reads the peer's bytes before the library does, and
 * each holding an association slot (slots.ts) from the moment it connects.
 */
import net from 'node:net';
import { log } from '../log';
import { DimseDeps, createScpClass } from './scp';
import { PduGate } from './gate';
import { AssociationSlots } from './slots';
import { quietDicomLibraries } from '../quiet-libraries';

// The libraries log data set values as plain text: never let them write to our output.
quietDicomLibraries();

export interface DimseListener {
  port: number;
  close(): Promise<void>;
}

export async function startDimse(deps: DimseDeps): Promise<DimseListener> {
  quietDicomLibraries();
  const cfg = deps.config.dimse;
  const slots = new AssociationSlots({ maxAssociations: cfg.maxAssociations, maxAssociationsPerAe: cfg.maxAssociationsPerAe });
  const ScpClass = createScpClass(deps);
  const sockets = new Set<net.Socket>();
  // Connections closed at once (every slot and every overflow place taken), logged at most once a second.
  const refused = { count: 0, loggedAt: 0 };
  const server = net.createServer((socket) => {
    const ticket = slots.connect();
    if (!ticket) {
      refused.count++;
      if (Date.now() - refused.loggedAt >= 1000) {
        log.warn('dimse-connection-refused', { host: (socket.remoteAddress ?? '').replace(/^::ffff:/, ''), why: 'too many connections', active: slots.active, refused: refused.count });
        refused.count = 0;
        refused.loggedAt = Date.now();
      }
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      ticket.release();
    });
    // Before the SCP exists: it registers its 'data' listener in its constructor.
    const gate = new PduGate(socket, {
      preAssociationTimeoutMs: cfg.preAssociationTimeoutSeconds * 1000,
      maxPduLength: cfg.maxPduLength,
      maxInstanceBytes: deps.config.maxInstanceBytes,
      maxIdentifierBytes: deps.config.limits.maxIdentifierBytes,
      maxNestingDepth: deps.config.limits.maxNestingDepth,
    });
    const scp = new ScpClass(
      socket,
      { associationTimeout: cfg.associationTimeoutSeconds * 1000, pduTimeout: cfg.associationTimeoutSeconds * 1000 },
      { gate, ticket },
    ) as unknown as { connected: boolean; on(e: string, f: (err: Error) => void): void };
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
