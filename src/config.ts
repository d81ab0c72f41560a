/**
 * Configuration: defaults, then an optional JSON config file (CONFIG_FILE, or
 * veilgate.config.json in the working directory), then environment variables.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_DEID_OPTIONS, DeidOptions, parseOptionList } from './deid/options';
import { JobRule, validateRules } from './processing/jobs/rules';
import { PixelRecipe, validateRecipes } from './deid/pixel-recipes';
import { DEFAULT_OCR, OcrSettings } from './deid/ocr';
import { Limits, loadLimits } from './limits';
import { AuthConfig, loadAuthConfig } from './auth/config';
import { AuditConfig, validateAuditConfig } from './audit/config';
import { BackendsConfig, BackendsFileConfig, loadBackendsConfig } from './core/backends-config';
import { EgressConfig, validateEgress } from './egress/config';

export interface Config {
  host: string;
  port: number;
  /** Index and files live here. */
  dataDir: string;
  /** Base URL clients reach the gateway at; RetrieveURL and BulkDataURI are built from it. */
  publicUrl: string;
  /** Set when PUBLIC_URL was given: otherwise a proxy's Forwarded / X-Forwarded-* headers say it. */
  publicUrlFixed: boolean;
  /** Origins a browser may call DICOMweb and /api from ("*" for any); none by default. */
  corsOrigins: string[];
  /** Largest single instance accepted, in bytes. */
  maxInstanceBytes: number;
  /** Largest STOW-RS request body, in bytes. */
  maxRequestBytes: number;
  /** Most QIDO-RS results returned when the client gives no limit. */
  qidoDefaultLimit: number;
  qidoMaxLimit: number;
  /** Binary values up to this size are inlined in metadata; larger ones become BulkDataURIs. */
  inlineBinaryMaxBytes: number;
  deid: DeidConfig;
  dimse: DimseConfig;
  /** Processing jobs run at once (each in its own worker thread). */
  jobConcurrency: number;
  /** Jobs queued when a series arrives (config file only; off by default). */
  jobRules: JobRule[];
  /** A series is judged by the rules once no instance has arrived for this long. */
  jobRulesQuietSeconds: number;
  /** A node that has not renewed its hold on a running job for this long is taken for dead: the job is queued again. */
  jobLeaseSeconds: number;
  /** Days a rejected (IOCM) instance is kept, hidden, before its row and file are deleted (maintenance/rejected-purge.ts). */
  rejectedGraceDays: number;
  /** Bounds on every size a client can declare, timeouts, and the concurrency of heavy work. */
  limits: Limits;
  /** Authentication (AUTH), roles, projects, trusted proxies. */
  auth: AuthConfig;
  /** HTTPS (TLS_CERT, TLS_KEY: PEM files); plain HTTP when absent. */
  tls?: TlsFiles;
  /** The DICOM audit trail (PS3.15 A.5): a file under DATA_DIR/audit, optionally syslog. */
  audit: AuditConfig;
  /** Index and store by URL, this node's name, the site secret (core/backends-config.ts). */
  backends: BackendsConfig;
  /** Research egress: destinations, routing rules, the retry queue (config file only; egress/config.ts). */
  egress: EgressConfig;
  /** Hours an export bundle is kept once done (EXPORT_TTL_HOURS, default 24; fractions allowed). */
  exportTtlHours: number;
  /** Export bundles built at once on this node (EXPORT_CONCURRENCY, default 1). */
  exportConcurrency: number;
}

export interface TlsFiles {
  cert: string;
  key: string;
  /** CA certificates of clients, for DICOM TLS with client certificates. */
  ca?: string;
}

export interface DimseConfig {
  /** DIMSE_PORT=off turns the listener off. */
  enabled: boolean;
  port: number;
  aeTitle: string;
  /**
   * With auth off: calling AE titles allowed to associate, as "AE" or "AE@host"; "*" allows any.
   * With auth on, auth.dimseCallers says who may associate and this is not used.
   */
  allowedCallers: string[];
  /**
   * Whether allowedCallers was given (DIMSE_ALLOWED_AE or dimse.allowedCallers) rather than
   * defaulted: off loopback with auth off, the default '*' is not applied and no AE is allowed.
   * Absent (a Config built by hand) counts as not given.
   */
  allowedCallersExplicit?: boolean;
  maxPduLength: number;
  maxAssociations: number;
  /** An association idle this long is released. */
  associationTimeoutSeconds: number;
  /** A connection must have sent its whole A-ASSOCIATE-RQ within this. */
  preAssociationTimeoutSeconds: number;
  /** Associations one calling AE title may hold at once (of maxAssociations). */
  maxAssociationsPerAe: number;
  /** C-MOVE destinations by AE title. */
  destinations: Record<string, { host: string; port: number }>;
  /**
   * DICOM TLS on the DIMSE port (DIMSE_TLS_CERT, DIMSE_TLS_KEY, DIMSE_TLS_CA,
   * DIMSE_TLS_REQUIRE_CLIENT_CERT), plain when absent. With `ca`, clients are asked for a
   * certificate; requireClientCertificate (needs `ca`) refuses a client without a valid one.
   */
  tls?: TlsFiles & { requireClientCertificate?: boolean };
}

export interface DeidConfig {
  options: DeidOptions;
  /** Accept instances whose pixels may carry burned-in identity (ultrasound, screen captures). */
  acceptBurnedIn: boolean;
  /** Keep a linkage file (original identifiers → pseudonyms) under <dataDir>/linkage/. */
  linkage: boolean;
  /** Pixel-cleaning recipes from the config file, tried before the shipped ones. */
  pixelRecipes: PixelRecipe[];
  /** The optional OCR check of cleaned pixels. */
  ocr: OcrSettings;
}

const GiB = 1024 ** 3;

export const defaults: Omit<Config, 'publicUrl' | 'publicUrlFixed' | 'limits' | 'auth' | 'tls' | 'audit' | 'backends' | 'egress' | 'exportTtlHours'> = {
  host: '127.0.0.1',
  port: 8080,
  dataDir: './data',
  maxInstanceBytes: 2 * GiB - 1,
  maxRequestBytes: 64 * GiB,
  qidoDefaultLimit: 1000,
  qidoMaxLimit: 10000,
  inlineBinaryMaxBytes: 0,
  corsOrigins: [],
  jobConcurrency: 1,
  jobRules: [],
  jobRulesQuietSeconds: 10,
  jobLeaseSeconds: 30,
  rejectedGraceDays: 7,
  exportConcurrency: 1,
  deid: { options: DEFAULT_DEID_OPTIONS, acceptBurnedIn: false, linkage: false, pixelRecipes: [], ocr: DEFAULT_OCR },
  dimse: {
    enabled: true,
    port: 11112,
    aeTitle: 'VEILGATE',
    allowedCallers: ['*'],
    maxPduLength: 262144,
    maxAssociations: 16,
    associationTimeoutSeconds: 60,
    preAssociationTimeoutSeconds: 10,
    maxAssociationsPerAe: 8,
    destinations: {},
  },
};

const ENV: Record<string, keyof Config> = {
  HOST: 'host',
  PORT: 'port',
  DATA_DIR: 'dataDir',
  PUBLIC_URL: 'publicUrl',
  MAX_INSTANCE_BYTES: 'maxInstanceBytes',
  MAX_REQUEST_BYTES: 'maxRequestBytes',
  QIDO_DEFAULT_LIMIT: 'qidoDefaultLimit',
  QIDO_MAX_LIMIT: 'qidoMaxLimit',
  INLINE_BINARY_MAX_BYTES: 'inlineBinaryMaxBytes',
  JOB_CONCURRENCY: 'jobConcurrency',
  JOB_RULES_QUIET_SECONDS: 'jobRulesQuietSeconds',
  JOB_LEASE_SECONDS: 'jobLeaseSeconds',
  REJECTED_GRACE_DAYS: 'rejectedGraceDays',
  EXPORT_CONCURRENCY: 'exportConcurrency',
};

type FileConfig = Partial<Omit<Config, 'deid' | 'dimse' | 'limits' | 'auth' | 'audit' | 'backends' | 'egress'>> & {
  egress?: unknown;
  backends?: BackendsFileConfig;
  audit?: unknown;
  limits?: unknown;
  auth?: Parameters<typeof loadAuthConfig>[0];
  deid?: Partial<Omit<DeidConfig, 'options' | 'ocr'>> & { options?: Partial<DeidOptions>; ocr?: Partial<OcrSettings> };
  dimse?: Partial<DimseConfig>;
};

const AE_TITLE = /^[\x20-\x5b\x5d-\x7e]{1,16}$/; // PS3.5 AE: 16 characters, no backslash or controls

function positiveInteger(name: string, v: unknown): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`configuration: ${name} must be a non-negative integer`);
  return n;
}

/** "AE=host:port,AE2=host:port" */
function parseDestinations(list: string): DimseConfig['destinations'] {
  const out: DimseConfig['destinations'] = {};
  for (const item of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^=]+)=([^:]+):(\d+)$/.exec(item);
    if (!m) throw new Error(`configuration: DIMSE_DESTINATIONS entry "${item}" is not AE=host:port`);
    out[m[1].trim()] = { host: m[2], port: Number(m[3]) };
  }
  return out;
}

function dimseConfig(file: Partial<DimseConfig> | undefined, env: NodeJS.ProcessEnv): DimseConfig {
  const c: DimseConfig = { ...defaults.dimse, ...(file ?? {}) };
  c.allowedCallersExplicit = env.DIMSE_ALLOWED_AE !== undefined || file?.allowedCallers !== undefined;
  if (env.DIMSE_PORT === 'off') c.enabled = false;
  else if (env.DIMSE_PORT) c.port = positiveInteger('DIMSE_PORT', env.DIMSE_PORT);
  if (env.AE_TITLE) c.aeTitle = env.AE_TITLE;
  if (env.DIMSE_ALLOWED_AE) c.allowedCallers = env.DIMSE_ALLOWED_AE.split(',').map((s) => s.trim()).filter(Boolean);
  if (env.DIMSE_MAX_PDU) c.maxPduLength = positiveInteger('DIMSE_MAX_PDU', env.DIMSE_MAX_PDU);
  if (env.DIMSE_MAX_ASSOCIATIONS) c.maxAssociations = positiveInteger('DIMSE_MAX_ASSOCIATIONS', env.DIMSE_MAX_ASSOCIATIONS);
  if (env.DIMSE_TIMEOUT) c.associationTimeoutSeconds = positiveInteger('DIMSE_TIMEOUT', env.DIMSE_TIMEOUT);
  if (env.DIMSE_PRE_ASSOCIATION_TIMEOUT) c.preAssociationTimeoutSeconds = positiveInteger('DIMSE_PRE_ASSOCIATION_TIMEOUT', env.DIMSE_PRE_ASSOCIATION_TIMEOUT);
  if (env.DIMSE_MAX_ASSOCIATIONS_PER_AE) c.maxAssociationsPerAe = positiveInteger('DIMSE_MAX_ASSOCIATIONS_PER_AE', env.DIMSE_MAX_ASSOCIATIONS_PER_AE);
  if (env.DIMSE_DESTINATIONS) c.destinations = { ...c.destinations, ...parseDestinations(env.DIMSE_DESTINATIONS) };
  if (env.DIMSE_TLS_CERT || env.DIMSE_TLS_KEY) c.tls = { ...(c.tls ?? {}), cert: env.DIMSE_TLS_CERT ?? c.tls?.cert ?? '', key: env.DIMSE_TLS_KEY ?? c.tls?.key ?? '', ca: env.DIMSE_TLS_CA ?? c.tls?.ca };
  if (env.DIMSE_TLS_REQUIRE_CLIENT_CERT && c.tls) c.tls.requireClientCertificate = booleanEnv('DIMSE_TLS_REQUIRE_CLIENT_CERT', env.DIMSE_TLS_REQUIRE_CLIENT_CERT);
  if (c.tls) checkTlsFiles(c.tls, 'dimse.tls');
  if (c.tls?.requireClientCertificate && !c.tls.ca) throw new Error('configuration: dimse.tls.requireClientCertificate needs dimse.tls.ca (DIMSE_TLS_CA), the CA client certificates are checked against');
  if (!Array.isArray(c.allowedCallers) || !c.allowedCallers.every((a) => typeof a === 'string')) throw new Error('configuration: dimse.allowedCallers must be a list of "AE" or "AE@host"');
  for (const [name, v] of [['preAssociationTimeoutSeconds', c.preAssociationTimeoutSeconds], ['maxAssociationsPerAe', c.maxAssociationsPerAe], ['associationTimeoutSeconds', c.associationTimeoutSeconds]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`configuration: dimse.${name} must be a positive integer`);
  }
  if (!AE_TITLE.test(c.aeTitle)) throw new Error('configuration: AE_TITLE must be 1 to 16 characters without backslash');
  for (const [ae, d] of Object.entries(c.destinations)) {
    if (!AE_TITLE.test(ae) || typeof d?.host !== 'string' || !Number.isInteger(d.port)) {
      throw new Error(`configuration: dimse.destinations.${ae} must be { "host": "...", "port": N }`);
    }
  }
  return c;
}

function checkTlsFiles(t: TlsFiles, where: string): void {
  for (const [k, file] of Object.entries({ cert: t.cert, key: t.key, ...(t.ca ? { ca: t.ca } : {}) })) {
    if (typeof file !== 'string' || !fs.existsSync(file)) throw new Error(`configuration: ${where}.${k} must name a PEM file that exists`);
  }
}

function booleanEnv(name: string, v: string): boolean {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new Error(`configuration: ${name} must be true or false`);
}

function ocrSettings(file: Partial<OcrSettings> | undefined): OcrSettings {
  const o: OcrSettings = { ...DEFAULT_OCR, ...(file ?? {}) };
  if (typeof o.enabled !== 'boolean') throw new Error('configuration: deid.ocr.enabled must be true or false');
  if (!Number.isInteger(o.maxFrames) || o.maxFrames < 1 || o.maxFrames > 100) throw new Error('configuration: deid.ocr.maxFrames must be 1 to 100');
  if (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > 16) throw new Error('configuration: deid.ocr.workers must be 1 to 16');
  return o;
}

function deidConfig(file: FileConfig['deid'], env: NodeJS.ProcessEnv): DeidConfig {
  const base = defaults.deid;
  const options = { ...base.options, ...(file?.options ?? {}) };
  for (const [k, v] of Object.entries(options)) {
    const expected = typeof base.options[k as keyof DeidOptions];
    if (!(k in base.options) || typeof v !== expected) throw new Error(`configuration: deid.options.${k} is not a valid option`);
  }
  const out: DeidConfig = {
    options: env.DEID_OPTIONS ? parseOptionList(env.DEID_OPTIONS, options) : options,
    acceptBurnedIn: file?.acceptBurnedIn ?? base.acceptBurnedIn,
    linkage: file?.linkage ?? base.linkage,
    pixelRecipes: validateRecipes(file?.pixelRecipes),
    ocr: ocrSettings(file?.ocr),
  };
  if (env.DEID_OCR) out.ocr.enabled = booleanEnv('DEID_OCR', env.DEID_OCR);
  if (env.DEID_ACCEPT_BURNED_IN) out.acceptBurnedIn = booleanEnv('DEID_ACCEPT_BURNED_IN', env.DEID_ACCEPT_BURNED_IN);
  if (env.DEID_LINKAGE) out.linkage = booleanEnv('DEID_LINKAGE', env.DEID_LINKAGE);
  return out;
}

/** Hours, fractions allowed (a test's bundle may expire in seconds); more than zero. */
function exportTtlHours(v: unknown): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error('configuration: exportTtlHours (EXPORT_TTL_HOURS) must be a number of hours above 0');
  return n;
}

function readConfigFile(env: NodeJS.ProcessEnv): FileConfig {
  const file = env.CONFIG_FILE ?? (fs.existsSync('veilgate.config.json') ? 'veilgate.config.json' : undefined);
  if (!file) return {};
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as FileConfig;
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`${file}: expected a JSON object`);
  return parsed;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const fileConfig = readConfigFile(env);
  const merged: Record<string, unknown> = {
    ...defaults,
    ...fileConfig,
    deid: deidConfig(fileConfig.deid, env),
    dimse: dimseConfig(fileConfig.dimse, env),
    jobRules: validateRules(fileConfig.jobRules ?? []),
    limits: loadLimits(fileConfig.limits, env),
    audit: validateAuditConfig(fileConfig.audit),
    egress: validateEgress(fileConfig.egress),
  };
  for (const [name, key] of Object.entries(ENV)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    merged[key] = typeof defaults[key as keyof typeof defaults] === 'number' ? Number(v) : v;
  }
  Object.assign(merged, overrides);
  for (const key of Object.keys(defaults) as (keyof typeof defaults)[]) {
    if (typeof defaults[key] === 'number' && !(Number.isInteger(merged[key]) && (merged[key] as number) >= 0)) {
      throw new Error(`configuration: ${key} must be a non-negative integer`);
    }
  }
  if (env.CORS_ORIGINS) merged.corsOrigins = env.CORS_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean);
  if (!Array.isArray(merged.corsOrigins) || !(merged.corsOrigins as unknown[]).every((o) => typeof o === 'string')) {
    throw new Error('configuration: corsOrigins must be a list of origins');
  }
  const config = merged as unknown as Config;
  config.exportTtlHours = exportTtlHours(overrides.exportTtlHours ?? (env.EXPORT_TTL_HOURS || fileConfig.exportTtlHours) ?? 24);
  config.auth = overrides.auth ?? loadAuthConfig(fileConfig.auth, env, String(config.host));
  if ((env.TLS_CERT || env.TLS_KEY) && !overrides.tls) config.tls = { cert: env.TLS_CERT ?? '', key: env.TLS_KEY ?? '' };
  if (config.tls) checkTlsFiles(config.tls, 'tls');
  config.dataDir = path.resolve(config.dataDir);
  config.backends = overrides.backends ?? loadBackendsConfig(fileConfig.backends, env);
  config.publicUrlFixed = !!config.publicUrl;
  if (!config.publicUrl) config.publicUrl = `${config.tls ? 'https' : 'http'}://${config.host}:${config.port}`;
  config.publicUrl = config.publicUrl.replace(/\/+$/, '');
  return config;
}
