/**
 * Original UIDs as scanners write them: a vendor-like root, then long random components.
 * Every component has at least nine digits, so no UID is a prefix of another and none
 * contains an MRN-sized number between dots.
 */
import { Rng } from './random';

const ROOTS = ['1.3.12.2.1107.5.1.4', '1.2.840.113619.2.55.3', '1.3.46.670589.11.0.0.11', '1.2.392.200036.9116.2.6'];

export class UidSource {
  private readonly seen = new Set<string>();
  private readonly root: string;

  constructor(private readonly rng: Rng) {
    this.root = rng.pick(ROOTS);
  }

  next(): string {
    let uid: string;
    do uid = `${this.root}.${this.rng.digits(10)}.${this.rng.digits(12)}.${this.rng.digits(9)}`;
    while (this.seen.has(uid));
    this.seen.add(uid);
    return uid;
  }
}
