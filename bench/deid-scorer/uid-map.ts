/**
 * The gateway's documented UID mapping, recomputed here so stored instances can be matched
 * to the originals: 2.25. followed by the decimal value of the first 128 bits of
 * HMAC-SHA256(site secret, original UID), with the secret from DATA_DIR/secret.key.
 */
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export function readSiteSecret(dataDir: string): Buffer {
  const hex = fs.readFileSync(path.join(dataDir, 'secret.key'), 'utf8').trim();
  if (!/^[0-9a-f]{64}$/i.test(hex)) throw new Error('secret.key is not 64 hexadecimal characters');
  return Buffer.from(hex, 'hex');
}

export function pseudonymousUid(secret: Buffer, uid: string): string {
  const digest = createHmac('sha256', secret).update(uid).digest();
  return '2.25.' + BigInt('0x' + digest.subarray(0, 16).toString('hex')).toString(10);
}
