/**
 * The site secret behind every keyed mapping: made once, on first start, readable by the owner
 * only; or, for several nodes that must map alike, one shared secret from a file or the
 * environment (SITE_SECRET_FILE, SITE_SECRET).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHmac, randomBytes } from 'node:crypto';
import { writeAllSync } from '../store/write-fully';

const SECRET_FILE = 'secret.key';

export function loadOrCreateSecret(dataDir: string): Buffer {
  const file = path.join(dataDir, SECRET_FILE);
  fs.mkdirSync(dataDir, { recursive: true });
  try {
    // 'wx' fails if the file exists, so two processes starting at once cannot both create one.
    const fd = fs.openSync(file, 'wx', 0o600);
    try {
      writeAllSync(fd, Buffer.from(randomBytes(32).toString('hex') + '\n', 'latin1'));
      fs.fsyncSync(fd);
    } catch (e) {
      // A secret cut short would fail every later start: none is better, and the next start makes one.
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
      throw e;
    }
    fs.closeSync(fd);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const hex = fs.readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${file} is not a site secret (64 hex digits)`);
  return Buffer.from(hex, 'hex');
}

function parseSecret(hex: string, where: string): Buffer {
  if (!/^[0-9a-fA-F]{64}$/.test(hex.trim())) throw new Error(`${where} is not a site secret (64 hex digits)`);
  return Buffer.from(hex.trim(), 'hex');
}

/** The secret from SITE_SECRET (hex), else SITE_SECRET_FILE, else DATA_DIR/secret.key (made when missing). */
export function loadSiteSecret(source: { dataDir: string; file?: string; hex?: string }): Buffer {
  if (source.hex !== undefined) return parseSecret(source.hex, 'SITE_SECRET');
  if (source.file !== undefined) return parseSecret(fs.readFileSync(source.file, 'utf8'), source.file);
  return loadOrCreateSecret(source.dataDir);
}

/**
 * What the index records of the secret: an HMAC under it of a fixed text, which tells two
 * secrets apart and reveals nothing of either.
 */
export function secretFingerprint(secret: Buffer): string {
  return createHmac('sha256', secret).update('veilgate site secret fingerprint').digest('hex').slice(0, 32);
}
