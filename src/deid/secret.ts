/** The site secret behind every keyed mapping: made once, on first start, readable by the owner only. */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
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
