/**
 * Research egress configuration (the config file's `egress`): destinations (remote DICOMweb
 * servers over STOW-RS, DICOM AEs over C-STORE), routing rules, and the queue's retry policy.
 * Everything is checked at start, so a mistake is a configuration error and never a silent
 * no-op; secrets (bearer tokens, passwords) are kept for the senders and never put in a message.
 */
import fs from 'node:fs';

export interface TransferWindow {
  /** Minutes after local midnight: sending may start from `from` until `to` (which may be past midnight). */
  from: number;
  to: number;
  /** As written, for messages and the API ("22:00-06:00"). */
  text: string;
}

interface DestinationBase {
  name: string;
  /** Batches in flight at once for this destination, over the whole cluster. */
  concurrency: number;
  /** Instances per STOW-RS request, or per association. */
  batchSize: number;
  /** Optional: items are only claimed inside this local-time window. */
  window?: TransferWindow;
  /** Optional: at most this many instances a second are started (per node). */
  instancesPerSecond?: number;
  /** A request or association that makes no progress for this long fails (and is retried). */
  timeoutSeconds: number;
}

export type DestinationAuth = { bearer: string } | { basic: { user: string; password: string } };

export interface DicomwebDestination extends DestinationBase {
  type: 'dicomweb';
  /** The DICOMweb root, e.g. https://archive.example.org/dicom-web */
  url: string;
  auth?: DestinationAuth;
  /** PEM CA certificates the remote's certificate is checked against (read at start). */
  ca?: Buffer;
}

export interface DimseDestination extends DestinationBase {
  type: 'dimse';
  host: string;
  port: number;
  aeTitle: string;
  callingAeTitle?: string;
  /** DICOM TLS (optional): CA, and our own certificate and key when the remote asks for one. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
}

export type Destination = DicomwebDestination | DimseDestination;

export interface Route {
  name: string;
  /** 'ingest': series that arrive from outside (quiet for quietSeconds); 'jobs': series processing jobs make. */
  from: 'ingest' | 'jobs';
  modality?: string[];
  /** Only instances of these SOP classes are forwarded (and counted for minInstances). */
  sopClassUID?: string[];
  project?: string;
  /** SeriesDescription matched with * and ? (case-insensitive); no regular expressions. */
  seriesDescription?: string;
  minInstances?: number;
  destinations: string[];
}

export interface EgressConfig {
  destinations: Record<string, Destination>;
  routes: Route[];
  /** A series is routed once no instance has arrived for this long; default jobRulesQuietSeconds. */
  quietSeconds?: number;
  /** An item is failed after this many attempts. */
  maxAttempts: number;
  /** Backoff: full jitter over min(cap, base * 2^(attempt-1)). */
  retryBaseSeconds: number;
  retryCapSeconds: number;
  /** A node that has not renewed its batch for this long is taken for dead: the batch is queued again. */
  leaseSeconds: number;
  /** The most instances one transfer may hold. */
  maxTransferInstances: number;
}

export const EGRESS_DEFAULTS: EgressConfig = {
  destinations: {},
  routes: [],
  maxAttempts: 20,
  retryBaseSeconds: 2,
  retryCapSeconds: 600,
  leaseSeconds: 60,
  maxTransferInstances: 100_000,
};

const bad = (where: string, what: string) => new Error(`configuration: egress.${where} ${what}`);
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const AE_TITLE = /^[\x20-\x5b\x5d-\x7e]{1,16}$/;
const UID = /^[0-9]+(\.[0-9]+)*$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function integer(where: string, v: unknown, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(where, `must be a whole number from ${min} to ${max}`);
  return v;
}

function positive(where: string, v: unknown, fallback: number | undefined, max: number): number | undefined {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > max) throw bad(where, `must be a number above 0 and at most ${max}`);
  return v;
}

function pemFile(where: string, file: unknown): Buffer {
  if (typeof file !== 'string' || !fs.existsSync(file)) throw bad(where, 'must name a PEM file that exists');
  return fs.readFileSync(file);
}

function strings(where: string, v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && s.length > 0)) throw bad(where, 'must be a string or a non-empty list of strings');
  return list as string[];
}

/** "22:00-06:00" (local time): from 22:00 to 06:00 the next morning. */
export function parseWindow(text: unknown, where = 'window'): TransferWindow {
  const m = typeof text === 'string' ? /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$/.exec(text) : null;
  if (!m) throw bad(where, 'must be "HH:MM-HH:MM" in local time, such as "22:00-06:00"');
  const from = Number(m[1]) * 60 + Number(m[2]);
  const to = Math.min(24 * 60, Number(m[3]) * 60 + Number(m[4]));
  if (from === to) throw bad(where, 'must not start and end at the same time');
  return { from, to, text: text as string };
}

/** Whether `at` (local time) lies inside the window; a window past midnight wraps. */
export function inWindow(w: TransferWindow | undefined, at: Date): boolean {
  if (!w) return true;
  const minute = at.getHours() * 60 + at.getMinutes();
  return w.from < w.to ? minute >= w.from && minute < w.to : minute >= w.from || minute < w.to;
}

function auth(where: string, v: unknown): DestinationAuth | undefined {
  if (v === undefined) return undefined;
  if (isObject(v) && typeof v.bearer === 'string' && v.bearer && Object.keys(v).length === 1) return { bearer: v.bearer };
  if (isObject(v) && isObject(v.basic) && Object.keys(v).length === 1) {
    const { user, password } = v.basic;
    if (typeof user === 'string' && user && !user.includes(':') && typeof password === 'string') return { basic: { user, password } };
  }
  // Never echo the value: it holds a secret.
  throw bad(where, 'must be { "bearer": "<token>" } or { "basic": { "user": "<name without :>", "password": "<password>" } }');
}

function destination(name: string, v: unknown): Destination {
  const where = `destinations.${name}`;
  if (!NAME.test(name)) throw bad(where, 'has a name that is not 1 to 64 letters, digits and . _ -');
  if (!isObject(v)) throw bad(where, 'must be an object with "type": "dicomweb" or "dimse"');
  const base = {
    name,
    window: v.window === undefined ? undefined : parseWindow(v.window, `${where}.window`),
    instancesPerSecond: positive(`${where}.instancesPerSecond`, v.instancesPerSecond, undefined, 100_000),
    timeoutSeconds: integer(`${where}.timeoutSeconds`, v.timeoutSeconds, 120, 1, 3600),
  };
  if (v.type === 'dicomweb') {
    const known = ['type', 'url', 'auth', 'concurrency', 'batchSize', 'tls', 'window', 'instancesPerSecond', 'timeoutSeconds'];
    for (const k of Object.keys(v)) if (!known.includes(k)) throw bad(where, `has an unknown setting "${k}" (known: ${known.join(', ')})`);
    let url: URL;
    try {
      url = new URL(String(v.url));
    } catch {
      throw bad(`${where}.url`, 'must be the remote DICOMweb root, such as https://archive.example.org/dicom-web');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad(`${where}.url`, 'must begin http:// or https://');
    if (url.username || url.password) throw bad(`${where}.url`, 'must not hold credentials: give them in "auth"');
    if (url.search || url.hash) throw bad(`${where}.url`, 'must not have a query or fragment');
    if (v.tls !== undefined && !(isObject(v.tls) && Object.keys(v.tls).every((k) => k === 'ca'))) throw bad(`${where}.tls`, 'must be { "ca": "file.pem" }');
    const tls = v.tls as { ca?: unknown } | undefined;
    if (tls?.ca !== undefined && url.protocol !== 'https:') throw bad(`${where}.tls`, 'needs an https:// url');
    return {
      ...base,
      type: 'dicomweb',
      url: url.toString().replace(/\/+$/, ''),
      auth: auth(`${where}.auth`, v.auth),
      ca: tls?.ca === undefined ? undefined : pemFile(`${where}.tls.ca`, tls.ca),
      concurrency: integer(`${where}.concurrency`, v.concurrency, 2, 1, 64),
      batchSize: integer(`${where}.batchSize`, v.batchSize, 20, 1, 1000),
    };
  }
  if (v.type === 'dimse') {
    const known = ['type', 'host', 'port', 'aeTitle', 'callingAeTitle', 'concurrency', 'batchSize', 'tls', 'window', 'instancesPerSecond', 'timeoutSeconds'];
    for (const k of Object.keys(v)) if (!known.includes(k)) throw bad(where, `has an unknown setting "${k}" (known: ${known.join(', ')})`);
    if (typeof v.host !== 'string' || !v.host) throw bad(`${where}.host`, 'must be a host name or address');
    if (typeof v.aeTitle !== 'string' || !AE_TITLE.test(v.aeTitle)) throw bad(`${where}.aeTitle`, 'must be 1 to 16 characters without backslash');
    if (v.callingAeTitle !== undefined && (typeof v.callingAeTitle !== 'string' || !AE_TITLE.test(v.callingAeTitle))) throw bad(`${where}.callingAeTitle`, 'must be 1 to 16 characters without backslash');
    let tls: DimseDestination['tls'];
    if (v.tls !== undefined) {
      if (!isObject(v.tls) || !Object.keys(v.tls).every((k) => ['ca', 'cert', 'key'].includes(k))) throw bad(`${where}.tls`, 'must be { "ca"?, "cert"?, "key"? } (PEM files)');
      const t = v.tls;
      if ((t.cert === undefined) !== (t.key === undefined)) throw bad(`${where}.tls`, 'needs both cert and key, or neither');
      tls = {
        ca: t.ca === undefined ? undefined : pemFile(`${where}.tls.ca`, t.ca),
        cert: t.cert === undefined ? undefined : pemFile(`${where}.tls.cert`, t.cert),
        key: t.key === undefined ? undefined : pemFile(`${where}.tls.key`, t.key),
      };
    }
    return {
      ...base,
      type: 'dimse',
      host: v.host,
      port: integer(`${where}.port`, v.port, -1, 1, 65535),
      aeTitle: v.aeTitle,
      callingAeTitle: v.callingAeTitle as string | undefined,
      tls,
      concurrency: integer(`${where}.concurrency`, v.concurrency, 1, 1, 64),
      batchSize: integer(`${where}.batchSize`, v.batchSize, 50, 1, 10_000),
    };
  }
  throw bad(`${where}.type`, 'must be "dicomweb" or "dimse"');
}

function route(i: number, v: unknown, destinations: Record<string, Destination>): Route {
  const where = `routes[${i}]`;
  if (!isObject(v)) throw bad(where, 'must be an object');
  const known = ['name', 'from', 'modality', 'sopClassUID', 'project', 'seriesDescription', 'minInstances', 'destinations'];
  for (const k of Object.keys(v)) if (!known.includes(k)) throw bad(where, `has an unknown condition "${k}" (known: ${known.join(', ')})`);
  const name = v.name === undefined ? `route-${i + 1}` : v.name;
  if (typeof name !== 'string' || !NAME.test(name)) throw bad(`${where}.name`, 'must be 1 to 64 letters, digits and . _ -');
  const from = v.from ?? 'ingest';
  if (from !== 'ingest' && from !== 'jobs') throw bad(`${where}.from`, 'must be "ingest" (series that arrive) or "jobs" (series processing jobs make)');
  const targets = strings(`${where}.destinations`, v.destinations);
  if (!targets) throw bad(`${where}.destinations`, 'must name one or more destinations');
  for (const d of targets) if (!Object.hasOwn(destinations, d)) throw bad(`${where}.destinations`, `names "${d}", which is not in egress.destinations`);
  const sopClassUID = strings(`${where}.sopClassUID`, v.sopClassUID);
  if (sopClassUID?.some((u) => !UID.test(u))) throw bad(`${where}.sopClassUID`, 'must hold UIDs');
  if (v.project !== undefined && (typeof v.project !== 'string' || !v.project)) throw bad(`${where}.project`, 'must be a project name');
  if (v.seriesDescription !== undefined && (typeof v.seriesDescription !== 'string' || v.seriesDescription.length > 256)) throw bad(`${where}.seriesDescription`, 'must be a pattern of up to 256 characters (* and ? are wildcards)');
  return {
    name,
    from,
    modality: strings(`${where}.modality`, v.modality),
    sopClassUID,
    project: v.project as string | undefined,
    seriesDescription: v.seriesDescription as string | undefined,
    minInstances: v.minInstances === undefined ? undefined : integer(`${where}.minInstances`, v.minInstances, 0, 0, 1_000_000),
    destinations: [...new Set(targets)],
  };
}

/** The `egress` section of the config file, checked; absent: no destinations and no routes. */
export function validateEgress(raw: unknown): EgressConfig {
  if (raw === undefined) return { ...EGRESS_DEFAULTS };
  if (!isObject(raw)) throw new Error('configuration: egress must be an object');
  const known = ['destinations', 'routes', 'quietSeconds', 'maxAttempts', 'retryBaseSeconds', 'retryCapSeconds', 'leaseSeconds', 'maxTransferInstances'];
  for (const k of Object.keys(raw)) if (!known.includes(k)) throw new Error(`configuration: egress has an unknown setting "${k}" (known: ${known.join(', ')})`);
  if (raw.destinations !== undefined && !isObject(raw.destinations)) throw new Error('configuration: egress.destinations must be an object of destinations by name');
  const destinations: Record<string, Destination> = {};
  for (const [name, d] of Object.entries(raw.destinations ?? {})) destinations[name] = destination(name, d);
  if (raw.routes !== undefined && !Array.isArray(raw.routes)) throw new Error('configuration: egress.routes must be a list');
  const routes = ((raw.routes as unknown[] | undefined) ?? []).map((r, i) => route(i, r, destinations));
  if (new Set(routes.map((r) => r.name)).size !== routes.length) throw new Error('configuration: egress.routes have two routes of one name');
  const c: EgressConfig = {
    destinations,
    routes,
    quietSeconds: raw.quietSeconds === undefined ? undefined : integer('quietSeconds', raw.quietSeconds, 0, 0, 86_400),
    maxAttempts: integer('maxAttempts', raw.maxAttempts, EGRESS_DEFAULTS.maxAttempts, 1, 1000),
    retryBaseSeconds: positive('retryBaseSeconds', raw.retryBaseSeconds, EGRESS_DEFAULTS.retryBaseSeconds, 3600)!,
    retryCapSeconds: positive('retryCapSeconds', raw.retryCapSeconds, EGRESS_DEFAULTS.retryCapSeconds, 86_400)!,
    leaseSeconds: integer('leaseSeconds', raw.leaseSeconds, EGRESS_DEFAULTS.leaseSeconds, 2, 3600),
    maxTransferInstances: integer('maxTransferInstances', raw.maxTransferInstances, EGRESS_DEFAULTS.maxTransferInstances, 1, 10_000_000),
  };
  if (c.retryCapSeconds < c.retryBaseSeconds) throw new Error('configuration: egress.retryCapSeconds must be at least retryBaseSeconds');
  return c;
}

/** A destination as the API shows it: no secrets, no certificate bytes. */
export function describeDestination(d: Destination): Record<string, unknown> {
  const common = { name: d.name, type: d.type, concurrency: d.concurrency, batchSize: d.batchSize, window: d.window?.text, instancesPerSecond: d.instancesPerSecond };
  if (d.type === 'dicomweb') return { ...common, url: d.url, auth: d.auth ? ('bearer' in d.auth ? 'bearer' : 'basic') : undefined, tls: d.ca ? 'ca' : undefined };
  return { ...common, host: d.host, port: d.port, aeTitle: d.aeTitle, callingAeTitle: d.callingAeTitle, tls: d.tls ? true : undefined };
}

/**
 * Full-jitter exponential backoff (AWS's "Exponential Backoff And Jitter"): a delay drawn
 * uniformly from 0 to min(cap, base * 2^(attempt - 1)), so many failing items spread out
 * instead of hammering a remote that just came back.
 */
export function backoffMs(attempt: number, baseSeconds: number, capSeconds: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capSeconds * 1000, baseSeconds * 1000 * 2 ** Math.min(40, Math.max(0, attempt - 1)));
  return Math.floor(random() * ceiling);
}

/**
 * Whether `text` matches `pattern`, where * is any run of characters and ? one character,
 * ignoring case. Greedy with one backtrack point (the last *): linear in practice, never the
 * exponential blow-up a regular expression built from user input could have.
 */
export function matchesPattern(pattern: string, text: string): boolean {
  const p = pattern.toLowerCase();
  const t = text.toLowerCase();
  let i = 0;
  let j = 0;
  let star = -1;
  let mark = 0;
  while (j < t.length) {
    if (i < p.length && (p[i] === '?' || p[i] === t[j])) {
      i++;
      j++;
    } else if (i < p.length && p[i] === '*') {
      star = i++;
      mark = j;
    } else if (star >= 0) {
      i = star + 1;
      j = ++mark;
    } else {
      return false;
    }
  }
  while (i < p.length && p[i] === '*') i++;
  return i === p.length;
}
