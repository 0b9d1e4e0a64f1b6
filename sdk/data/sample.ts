// The seeded, class-balanced sampler behind the `:N` suffix of a dataset spec. Pure.
//
// Quotas: with K classes present, every class gets floor(N/K) images and the remaining N mod K images go one each
// to the classes with the SMALLEST label numbers (so `:25` over 10 classes gives classes 0–4 three images and
// classes 5–9 two). A class with fewer images than its quota gives all it has, and its shortfall is handed out
// the same way (one each, smallest label first, round after round) among the classes that still have images left,
// so the result always holds exactly N images when the set has at least N.
// Within a class the images are a seeded uniform sample without replacement (Fisher–Yates, mulberry32 seeded from
// (seed, label)). The chosen indices are returned in ascending order, i.e. in the set's own order.

import { VitguardError } from '../errors.js';
import { mixSeed, mulberry32, sampleWithoutReplacement } from './random.js';

/**
 * Choose n indices into a set whose item i has class targets[i]. Deterministic for (targets, n, seed).
 * Throws E_DATA if n exceeds the set's size, E_INPUT if n is not a positive integer.
 */
export function classBalancedIndices(targets: ArrayLike<number>, n: number, seed = 0): number[] {
  if (!Number.isInteger(n) || n <= 0) throw new VitguardError('E_INPUT', `sample size must be a positive integer, got ${n}`);
  if (n > targets.length) {
    throw new VitguardError('E_DATA', `asked for a sample of ${n} but the set holds only ${targets.length} images`);
  }
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    let list = byClass.get(t);
    if (!list) byClass.set(t, (list = []));
    list.push(i);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const quota = classQuotas(
    classes.map((c) => byClass.get(c)!.length),
    n,
  );
  const chosen: number[] = [];
  classes.forEach((c, k) => {
    const rand = mulberry32(mixSeed(seed, c, 0x5a17));
    chosen.push(...sampleWithoutReplacement(byClass.get(c)!, quota[k], rand));
  });
  return chosen.sort((a, b) => a - b);
}

/** Images per class (classes in label order, `available[k]` images each) for a total of n; see the header. */
export function classQuotas(available: readonly number[], n: number): number[] {
  const K = available.length;
  const quota = new Array<number>(K).fill(0);
  let left = n;
  // Water-filling: hand out equal shares to the classes that still have spare images, remainder smallest-first.
  while (left > 0) {
    const open = available.map((a, k) => (quota[k] < a ? k : -1)).filter((k) => k >= 0);
    if (open.length === 0) break; // cannot happen when n ≤ Σ available
    const share = Math.floor(left / open.length);
    let rem = left - share * open.length;
    for (const k of open) {
      const want = share + (rem > 0 ? 1 : 0);
      const give = Math.min(want, available[k] - quota[k]);
      if (want > share) rem--;
      quota[k] += give;
      left -= give;
    }
  }
  return quota;
}
