/**
 * The corpus itself as if a gateway had stored it untouched: the scorer's own check. Scored
 * like this, every PHI token must be found and every removal must fail, while everything
 * the key asks to keep is kept; if not, the scorer is wrong, not the gateway.
 */
import { randomBytes } from 'node:crypto';
import { CorpusInstance } from '../../src/synthetic/deid-corpus';
import { GatewayOutput } from './gateway-run';

export function rawCorpusOutput(corpus: CorpusInstance[]): GatewayOutput {
  return {
    dataDir: '(the corpus as generated)',
    secret: randomBytes(32),
    stow: { sent: corpus.length, stored: corpus.length, refused: {}, rejectedKinds: {}, failedBySop: new Map(), sweptPaths: {} },
    files: corpus.map((c, i) => ({ name: `files/${String(i).padStart(5, '0')}.dcm`, bytes: c.bytes })),
    answers: [],
    logLines: [],
  };
}
