/**
 * The audit configuration (the config file's "audit" key), checked the way src/config.ts
 * checks the rest: every error is a "configuration: …" Error naming the setting.
 *
 *   { "audit": {
 *       "file":   { "enabled": true, "maxBytes": 67108864, "keep": "forever" },
 *       "syslog": { "host": "arr.example.org", "port": 6514,
 *                   "tls": { "ca": "/etc/veilgate/arr-ca.pem" }, "facility": "authpriv" } } }
 */
import fs from 'node:fs';

export interface AuditFileConfig {
  enabled: boolean;
  /** A file is rotated before it would exceed this many bytes. */
  maxBytes: number;
  /** Rotated files kept, or all of them. */
  keep: number | 'forever';
  flushIntervalMs: number;
}

export interface AuditSyslogConfig {
  host: string;
  port: number;
  tls?: { ca?: string; rejectUnauthorized: boolean; cert?: string; key?: string };
  /** 0–23 (10 = authpriv). */
  facility: number;
  /** Messages waiting while the collector is unreachable; more are dropped and counted. */
  maxQueue: number;
}

export interface AuditConfig {
  file: AuditFileConfig;
  syslog?: AuditSyslogConfig;
  /** AuditSourceID (default veilgate@<hostname>) and AuditEnterpriseSiteID. */
  sourceId?: string;
  enterpriseSiteId?: string;
}

const MiB = 1024 * 1024;

export const DEFAULT_AUDIT_CONFIG: AuditConfig = Object.freeze({
  file: Object.freeze({ enabled: true, maxBytes: 64 * MiB, keep: 'forever' as const, flushIntervalMs: 200 }),
});

/** RFC 5424 6.2.1 facility names. */
export const FACILITIES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  ntp: 12, audit: 13, alert: 14, clock: 15, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

const fail = (setting: string, what: string): never => {
  throw new Error(`configuration: audit${setting ? '.' + setting : ''} ${what}`);
};

function object(v: unknown, setting: string, allowed: string[]): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(setting, 'must be an object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(setting ? `${setting}.${k}` : k, 'is not an audit setting');
  return o;
}

function integer(v: unknown, setting: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(setting, `must be an integer from ${min} to ${max}`);
  return v as number;
}

function boolean(v: unknown, setting: string): boolean {
  if (typeof v !== 'boolean') fail(setting, 'must be true or false');
  return v as boolean;
}

function readableFile(v: unknown, setting: string): string {
  if (typeof v !== 'string' || v.length === 0) fail(setting, 'must be the path of a PEM file');
  try {
    fs.accessSync(v as string, fs.constants.R_OK);
  } catch {
    fail(setting, `names a file that cannot be read: ${v as string}`);
  }
  return v as string;
}

const TOKEN = /^[\x21-\x7e]{1,128}$/;
const HOST = /^[A-Za-z0-9._:[\]-]{1,253}$/;

export function validateAuditConfig(raw: unknown): AuditConfig {
  if (raw === undefined) return { file: { ...DEFAULT_AUDIT_CONFIG.file } };
  const o = object(raw, '', ['file', 'syslog', 'sourceId', 'enterpriseSiteId']);
  const d = DEFAULT_AUDIT_CONFIG.file;
  const f = o.file === undefined ? {} : object(o.file, 'file', ['enabled', 'maxBytes', 'keep', 'flushIntervalMs']);
  const file: AuditFileConfig = {
    enabled: f.enabled === undefined ? d.enabled : boolean(f.enabled, 'file.enabled'),
    maxBytes: f.maxBytes === undefined ? d.maxBytes : integer(f.maxBytes, 'file.maxBytes', 4096, Number.MAX_SAFE_INTEGER),
    keep: f.keep === undefined || f.keep === 'forever' ? d.keep : typeof f.keep === 'number' ? integer(f.keep, 'file.keep', 0, 1_000_000) : fail('file.keep', 'must be a number of files or "forever"'),
    flushIntervalMs: f.flushIntervalMs === undefined ? d.flushIntervalMs : integer(f.flushIntervalMs, 'file.flushIntervalMs', 1, 60_000),
  };
  const out: AuditConfig = { file };

  if (o.syslog !== undefined) {
    const s = object(o.syslog, 'syslog', ['host', 'port', 'tls', 'facility', 'maxQueue']);
    if (typeof s.host !== 'string' || !HOST.test(s.host)) fail('syslog.host', 'must be a host name or IP address');
    const syslog: AuditSyslogConfig = {
      host: s.host as string,
      port: integer(s.port, 'syslog.port', 1, 65535),
      facility: 10,
      maxQueue: s.maxQueue === undefined ? 10_000 : integer(s.maxQueue, 'syslog.maxQueue', 1, 10_000_000),
    };
    if (s.facility !== undefined) {
      if (typeof s.facility === 'string') {
        if (!(s.facility in FACILITIES)) fail('syslog.facility', 'must be 0 to 23 or a facility name (authpriv, local0, …)');
        syslog.facility = FACILITIES[s.facility];
      } else syslog.facility = integer(s.facility, 'syslog.facility', 0, 23);
    }
    if (s.tls !== undefined) {
      const t = s.tls === true ? {} : object(s.tls, 'syslog.tls', ['ca', 'rejectUnauthorized', 'cert', 'key']);
      syslog.tls = {
        rejectUnauthorized: t.rejectUnauthorized === undefined ? true : boolean(t.rejectUnauthorized, 'syslog.tls.rejectUnauthorized'),
        ...(t.ca !== undefined ? { ca: readableFile(t.ca, 'syslog.tls.ca') } : {}),
        ...(t.cert !== undefined ? { cert: readableFile(t.cert, 'syslog.tls.cert') } : {}),
        ...(t.key !== undefined ? { key: readableFile(t.key, 'syslog.tls.key') } : {}),
      };
      if ((syslog.tls.cert === undefined) !== (syslog.tls.key === undefined)) fail('syslog.tls', 'needs both cert and key, or neither');
    }
    out.syslog = syslog;
  }
  for (const k of ['sourceId', 'enterpriseSiteId'] as const) {
    if (o[k] === undefined) continue;
    if (typeof o[k] !== 'string' || !TOKEN.test(o[k] as string)) fail(k, 'must be 1 to 128 printable characters without spaces');
    out[k] = o[k] as string;
  }
  return out;
}
