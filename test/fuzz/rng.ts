// The fuzzer's seeded randomness: case i of a run with seed s draws from its own generator mixSeed(s, kind, i), so a
// case can be regenerated alone (to write a failure out, or to replay it) without running the cases before it.

import { mixSeed, mulberry32 } from '../../sdk/data/random.js';

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** [0, 1). */
  float(): number {
    return this.next();
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  /** One of the items, drawn with the given relative weights. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of items) total += w;
    let r = this.next() * total;
    for (const [v, w] of items) {
      r -= w;
      if (r < 0) return v;
    }
    return items[items.length - 1][0];
  }
  /** A byte value, biased towards the ones that break parsers (0, 0xff, 0x7f, 0x80, 1). */
  byte(): number {
    return this.chance(0.4) ? this.pick([0, 0xff, 0x7f, 0x80, 1, 0xfe]) : this.int(256);
  }
}

export type FuzzKind = 'model' | 'image';

/** The generator of one case. */
export function caseRng(seed: number, kind: FuzzKind, index: number): Rng {
  return new Rng(mixSeed(seed, kind === 'model' ? 1 : 2, index));
}

/** Numbers that break parsers and allocators: zero, negatives, fractions, 2^31, 2^32, 2^53 and beyond. */
export const INTERESTING_NUMBERS: readonly number[] = [
  0, 1, -1, 2, 3, 7, 8, 16, 255, 256, 65535, 65536, 1e6, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e300, -(2 ** 31), 0.5, 1.5, -0.5, 1e-300,
];
