/**
 * The DIMSE listener, started with the HTTP server. It owns its TCP server (dcmjs-dimse's
 * binds every interface; this one binds HOST like the HTTP side) and one SCP per connection,
 * each behind a PDU gate (gate.ts) that reads the peer's bytes before the library does, and
 * each holding an association slot (slots.ts) from the moment it connects.
 *
 * With dimse.tls the server is a TLS one (DICOM TLS, PS3.15 B.1): the gate, the slots and the
 * SCP get the TLS socket, which gives them the decrypted bytes exactly as a TCP socket would.
 */
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { log } from '../log';
import { callerPolicyWarning, peerHost } from './callers';
import type { DimseConfig } from '../config';
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
  const policy = callerPolicyWarning(cfg, deps.config.auth, deps.config.host);
  if (policy) log.warn(policy.event, policy.fields);
  // Connections closed at once (every slot and every overflow place taken), logged at most once a second.
  const refused = { count: 0, loggedAt: 0 };
  const onConnection = (socket: net.Socket) => {
    const ticket = slots.connect();
    if (!ticket) {
      refused.count++;
      if (Date.now() - refused.loggedAt >= 1000) {
        log.warn('dimse-connection-refused', { host: peerHost(socket.remoteAddress), why: 'too many connections', active: slots.active, refused: refused.count });
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
  };
  const server = cfg.tls ? tlsServer(cfg.tls, cfg, onConnection) : net.createServer(onConnection);
  if (cfg.tls) {
    // Connections still in their TLS handshake are closed with the listener too.
    server.on('connection', (raw: net.Socket) => {
      sockets.add(raw);
      raw.once('close', () => sockets.delete(raw));
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, deps.config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : cfg.port;
  log.info('dimse-listening', { aeTitle: cfg.aeTitle, host: deps.config.host, port, tls: !!cfg.tls, clientCertificates: clientCertificates(cfg.tls) });
  return {
    port,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/**
 * A DICOM TLS server: TLS 1.2 or later, the server's certificate and key, and with a CA the
 * clients' certificates asked for (and when required, checked: no valid one, no connection).
 * A connection reaches the SCP only once its handshake is done, within the pre-association
 * timeout; handshakes in flight count against the same bound as connections.
 */
function tlsServer(files: NonNullable<DimseConfig['tls']>, cfg: DimseConfig, onConnection: (socket: net.Socket) => void): tls.Server {
  const ca = files.ca ? fs.readFileSync(files.ca) : undefined;
  const server = tls.createServer(
    {
      cert: fs.readFileSync(files.cert),
      key: fs.readFileSync(files.key),
      minVersion: 'TLSv1.2',
      ca,
      requestCert: !!ca,
      rejectUnauthorized: !!ca && !!files.requireClientCertificate,
      handshakeTimeout: cfg.preAssociationTimeoutSeconds * 1000,
    },
    (socket) => {
      // A certificate that was offered must be valid even where none is required.
      if (ca && !socket.authorized && Object.keys(socket.getPeerCertificate() ?? {}).length > 0) {
        log.warn('dimse-tls-refused', { host: peerHost(socket.remoteAddress), why: 'client certificate not valid' });
        socket.destroy();
        return;
      }
      onConnection(socket);
    },
  );
  // Every slot plus as many overflow places (slots.ts): beyond that, not even a handshake.
  server.maxConnections = cfg.maxAssociations * 2;
  // Failed handshakes (plain DICOM on the TLS port, a missing or wrong client certificate), at most once a second.
  const failed = { count: 0, loggedAt: 0 };
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
    failed.count++;
    if (Date.now() - failed.loggedAt >= 1000) {
      log.warn('dimse-tls-handshake-failed', { host: peerHost(socket.remoteAddress), error: err.code ?? 'error', failures: failed.count });
      failed.count = 0;
      failed.loggedAt = Date.now();
    }
    socket.destroy();
  });
  return server;
}

/** What the listener asks of clients' certificates, for its start-up line. */
function clientCertificates(files: DimseConfig['tls']): 'required' | 'requested' | 'no' | undefined {
  if (!files) return undefined;
  return files.requireClientCertificate ? 'required' : files.ca ? 'requested' : 'no';
}
