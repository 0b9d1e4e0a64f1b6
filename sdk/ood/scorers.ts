// OOD scorers. Every score is "higher = more in-distribution" (OpenOOD convention).
//
// Inputs per image, as the engine produces them:
//   logits  Float32Array (C)  the classifier output
//   feature Float32Array (D)  the class token after the final norm, before the head (the pre-logit feature)
//
// Logit scorers (no fitting): MSP, MaxLogit, Energy, GEN.
// Feature scorers (fitted on ID training features): Mahalanobis, relative Mahalanobis, KNN, ViM.
// Fitted statistics are kept as Float32Arrays and serialised bit-exactly (f32, or f16 for the KNN bank, rounded
// at fit time), so a scorer rebuilt from toJSON() gives identical scores.

import { VitguardError } from '../errors.js';
import { decodeArray, encodeArray, parseTaggedJSON, roundTo, type ArrayDType, type EncodedArray } from './codec.js';
import { choleskyWithRidge, invertLower, pinvSolve, ScatterAccumulator, symmetricEigen } from './linalg.js';
import { mulberry32 } from '../data/random.js';

export type ScorerName = 'msp' | 'maxlogit' | 'energy' | 'gen' | 'mahalanobis' | 'rmahalanobis' | 'knn' | 'vim';
export const SCORER_NAMES: readonly ScorerName[] = ['msp', 'maxlogit', 'energy', 'gen', 'mahalanobis', 'rmahalanobis', 'knn', 'vim'];
export const SCORER_JSON_FORMAT = 'vitguard-ood-scorer/1';

export function isScorerName(s: unknown): s is ScorerName {
  return typeof s === 'string' && (SCORER_NAMES as readonly string[]).includes(s);
}

export interface ScorerOptions {
  /** energy: temperature T of T·logsumexp(z/T) (default 1). */
  temperature?: number;
  /** gen: exponent γ of Σ p^γ(1−p)^γ (default 0.1, Liu et al. 2023). */
  gamma?: number;
  /** gen: number M of top probabilities summed (default 100, capped at C). */
  topM?: number;
  /** mahalanobis / rmahalanobis: ridge added to the covariance, relative to its mean variance (default 1e-6;
   *  raised ×10 up to 0.1 if the covariance is still not positive definite; the value used is stored). */
  ridge?: number;
  /** knn: which nearest neighbour's distance is the score (default 50). */
  k?: number;
  /** knn: cap on the stored ID bank; larger fit sets are subsampled with `seed` (default 5000). */
  maxBank?: number;
  /** knn: storage dtype of the bank (default 'f16': half the size; cosines change by ~1e-3). */
  bankDtype?: ArrayDType;
  /** knn: seed of the bank subsample (default 0). */
  seed?: number;
  /** vim: dimension of the principal subspace (default 1000 for D ≥ 2048, 512 for D ≥ 768, else ⌊D/2⌋). */
  principalDim?: number;
  /** vim: fixed α instead of the fitted mean max-logit / mean residual norm. */
  alpha?: number;
}

export interface ClassifierHead {
  /** C×D row-major (timm `head.weight`). */
  weight: Float32Array;
  /** C (timm `head.bias`). */
  bias: Float32Array;
}

export interface FitData {
  /** N ID features of width D: an array of vectors, or one N×D row-major array (then `dim` or `head` gives D). */
  features: Float32Array[] | Float32Array;
  dim?: number;
  /** N class ids (mahalanobis, rmahalanobis). */
  labels?: ArrayLike<number>;
  /** N logit vectors of width C, or N×C (vim's α; computed from `head` when absent). */
  logits?: Float32Array[] | Float32Array;
  /** The classifier head (vim: the origin u = −W⁺b and logits). */
  head?: ClassifierHead;
}

export interface Scorer {
  readonly name: ScorerName;
  readonly needsFit: boolean;
  /** False until fit() or a load from JSON, for scorers that need fitting; always true for logit scorers. */
  readonly fitted: boolean;
  /** Fit on ID training data (a no-op for logit scorers). */
  fit(data: FitData): this;
  /** One image's score; higher = more in-distribution. `feature` is needed by the feature scorers only. */
  score(logits: Float32Array, feature?: Float32Array): number;
  /** Options and fitted statistics, compact (arrays as base64), for a model file's metadata. */
  toJSON(): ScorerJSON;
}

export interface ScorerJSON {
  format: typeof SCORER_JSON_FORMAT;
  method: ScorerName;
  options: ScorerOptions;
  fitted?: Record<string, unknown>;
}

// --- logit scores (pure functions) --------------------------------------------------------------------------------

function maxOf(z: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < z.length; i++) if (z[i] > m) m = z[i];
  return m;
}

/** Softmax probabilities of logits (C), in f64, max-subtracted so large logits do not overflow. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  const m = maxOf(logits);
  const p = new Float64Array(logits.length);
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += p[i] = Math.exp(logits[i] - m);
  for (let i = 0; i < p.length; i++) p[i] /= s;
  return p;
}

/** Maximum softmax probability. */
export function mspScore(logits: ArrayLike<number>): number {
  const m = maxOf(logits);
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += Math.exp(logits[i] - m);
  return 1 / s;
}

/** Maximum logit. */
export function maxLogitScore(logits: ArrayLike<number>): number {
  return maxOf(logits);
}

/** Energy score (negative free energy): T·logsumexp(z/T). */
export function energyScore(logits: ArrayLike<number>, temperature = 1): number {
  const m = maxOf(logits) / temperature;
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += Math.exp(logits[i] / temperature - m);
  return temperature * (m + Math.log(s));
}

/** GEN (Liu et al., CVPR 2023): −Σ over the M largest softmax probabilities of p^γ·(1−p)^γ. */
export function genScore(logits: ArrayLike<number>, gamma = 0.1, topM = 100): number {
  const c = logits.length;
  const p = softmax(logits);
  const M = Math.min(topM, c);
  if (M < c) p.sort().reverse();
  let g = 0;
  for (let i = 0; i < M; i++) g += Math.pow(p[i], gamma) * Math.pow(1 - p[i], gamma);
  return -g;
}

// --- fit-data access ----------------------------------------------------------------------------------------------

function bad(message: string): never {
  throw new VitguardError('E_OOD', message);
}

function rowsOf(x: Float32Array[] | Float32Array, width: number | undefined, what: string): { n: number; d: number; row: (i: number) => Float32Array } {
  if (Array.isArray(x)) {
    if (x.length === 0) bad(`fit data has no ${what}: fitting needs ID samples`);
    const d = x[0].length;
    x.forEach((v, i) => {
      if (!(v instanceof Float32Array)) throw new VitguardError('E_INPUT', `fit ${what}[${i}] is not a Float32Array`);
      if (v.length !== d) throw new VitguardError('E_INPUT', `fit ${what}[${i}] has length ${v.length}, expected ${d} like the first`);
    });
    return { n: x.length, d, row: (i) => x[i] };
  }
  if (!(x instanceof Float32Array)) throw new VitguardError('E_INPUT', `fit ${what} must be Float32Array[] or one N×D Float32Array`);
  if (!width || !Number.isInteger(width) || width <= 0) throw new VitguardError('E_INPUT', `fit ${what} is one flat array: give its row width (fit.dim, or fit.head)`);
  if (x.length === 0) bad(`fit data has no ${what}: fitting needs ID samples`);
  if (x.length % width !== 0) throw new VitguardError('E_INPUT', `fit ${what} has ${x.length} values, not a multiple of the row width ${width}`);
  return { n: x.length / width, d: width, row: (i) => x.subarray(i * width, (i + 1) * width) };
}

function fitFeatures(data: FitData) {
  if (!data || !data.features) throw new VitguardError('E_INPUT', 'fit data has no features');
  const width = data.dim ?? (data.head ? data.head.weight.length / Math.max(1, data.head.bias.length) : undefined);
  const f = rowsOf(data.features, width, 'features');
  if (data.dim !== undefined && f.d !== data.dim) throw new VitguardError('E_INPUT', `fit features have width ${f.d}, fit.dim says ${data.dim}`);
  for (let i = 0; i < f.n; i++) {
    const r = f.row(i);
    for (let j = 0; j < f.d; j++) {
      if (!Number.isFinite(r[j])) throw new VitguardError('E_NONFINITE', `fit feature [${i}][${j}] is ${r[j]}`);
    }
  }
  return f;
}

function fitLabels(data: FitData, n: number): Int32Array {
  if (!data.labels) bad('fit data has no labels: class-conditional Mahalanobis needs the class of every fit feature');
  if (data.labels.length !== n) throw new VitguardError('E_INPUT', `fit has ${n} features but ${data.labels.length} labels`);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = data.labels[i];
    if (!Number.isInteger(y) || y < 0) throw new VitguardError('E_INPUT', `fit label [${i}] = ${y} is not a class index`);
    out[i] = y;
  }
  return out;
}

function checkHead(head: ClassifierHead | undefined, dim: number, method: string): { C: number } {
  if (!head || !(head.weight instanceof Float32Array) || !(head.bias instanceof Float32Array)) {
    bad(`${method} needs the classifier head {weight (C×D), bias (C)} in fit.head`);
  }
  const C = head.bias.length;
  if (C === 0 || head.weight.length !== C * dim) {
    throw new VitguardError('E_INPUT', `fit.head.weight has ${head.weight.length} values, expected C·D = ${C}·${dim}`);
  }
  return { C };
}

function positiveInt(v: unknown, what: string): number {
  if (!Number.isInteger(v) || (v as number) <= 0) bad(`${what} must be a positive integer, got ${String(v)}`);
  return v as number;
}

function positiveNumber(v: unknown, what: string): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) bad(`${what} must be a positive number, got ${String(v)}`);
  return v;
}

// --- the base class -----------------------------------------------------------------------------------------------

export abstract class BaseScorer implements Scorer {
  abstract readonly name: ScorerName;
  abstract readonly needsFit: boolean;
  protected options: ScorerOptions;
  constructor(options: ScorerOptions) {
    this.options = options;
  }
  get fitted(): boolean {
    return !this.needsFit || this.isFitted();
  }
  protected isFitted(): boolean {
    return true;
  }
  fit(data: FitData): this {
    void data;
    return this;
  }
  score(logits: Float32Array, feature?: Float32Array): number {
    if (!this.fitted) bad(`OOD scorer "${this.name}" is not fitted: call fit() on ID training features (vitguard fit-ood) or load fitted statistics`);
    if (!logits || typeof logits.length !== 'number' || logits.length === 0) throw new VitguardError('E_INPUT', `${this.name}: logits are missing or empty`);
    for (let i = 0; i < logits.length; i++) {
      if (!Number.isFinite(logits[i])) throw new VitguardError('E_NONFINITE', `${this.name}: logits[${i}] is ${logits[i]}`);
    }
    if (feature) {
      for (let i = 0; i < feature.length; i++) {
        if (!Number.isFinite(feature[i])) throw new VitguardError('E_NONFINITE', `${this.name}: feature[${i}] is ${feature[i]}`);
      }
    }
    const s = this.compute(logits, feature);
    if (!Number.isFinite(s)) throw new VitguardError('E_NONFINITE', `${this.name}: score is ${s} (overflow in the fitted statistics?)`);
    return s;
  }
  protected abstract compute(logits: Float32Array, feature?: Float32Array): number;
  protected fittedJSON(): Record<string, unknown> | undefined {
    return undefined;
  }
  /** Restore fitted statistics from toJSON().fitted. */
  abstract loadFitted(f: Record<string, unknown>): void;
  toJSON(): ScorerJSON {
    const fitted = this.needsFit && this.isFitted() ? this.fittedJSON() : undefined;
    return { format: SCORER_JSON_FORMAT, method: this.name, options: { ...this.options }, ...(fitted ? { fitted } : {}) };
  }
  protected needFeature(feature: Float32Array | undefined, dim: number): Float32Array {
    if (!feature) throw new VitguardError('E_INPUT', `${this.name} scores the pre-logit feature: pass it as the second argument`);
    if (feature.length !== dim) throw new VitguardError('E_INPUT', `${this.name}: feature has width ${feature.length}, the scorer was fitted on width ${dim}`);
    return feature;
  }
}

// --- logit scorers ------------------------------------------------------------------------------------------------

class LogitScorer extends BaseScorer {
  readonly name: ScorerName;
  readonly needsFit = false;
  private readonly fn: (z: Float32Array) => number;
  constructor(name: ScorerName, options: ScorerOptions, fn: (z: Float32Array) => number) {
    super(options);
    this.name = name;
    this.fn = fn;
  }
  protected compute(logits: Float32Array): number {
    return this.fn(logits);
  }
  loadFitted(): void {}
}

// --- Mahalanobis and relative Mahalanobis -------------------------------------------------------------------------

/** Gaussian with covariance Σ = L·Lᵀ kept as the whitening W = L⁻¹ (lower, packed by rows: D(D+1)/2 values). */
interface Whitening {
  W: Float32Array;
  ridge: number;
}

function fitWhitening(cov: Float64Array, d: number, relRidge: number): Whitening {
  const { L, ridge } = choleskyWithRidge(cov, d, relRidge);
  const Winv = invertLower(L, d);
  const W = new Float32Array((d * (d + 1)) / 2);
  let o = 0;
  for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) W[o++] = Winv[i * d + j];
  return { W, ridge };
}

/** y = W·x, W lower-triangular packed by rows. */
function whiten(W: Float32Array, x: ArrayLike<number>, d: number, y: Float64Array): void {
  let o = 0;
  for (let i = 0; i < d; i++) {
    let s = 0;
    for (let j = 0; j <= i; j++) s += W[o++] * x[j];
    y[i] = s;
  }
}

export class MahalanobisScorer extends BaseScorer {
  readonly name: 'mahalanobis' | 'rmahalanobis';
  readonly needsFit = true;
  private dim = 0;
  private classes: Int32Array | null = null; // label of each stored mean
  private W: Float32Array | null = null; // within-class whitening, packed
  private means: Float32Array | null = null; // whitened class means W·μ_c, C'×D
  private ridgeUsed = 0;
  private W0: Float32Array | null = null; // background whitening (relative variant)
  private mean0: Float32Array | null = null; // whitened background mean W0·μ0
  private ridge0Used = 0;
  private y: Float64Array = new Float64Array(0); // scratch, D

  constructor(name: 'mahalanobis' | 'rmahalanobis', options: ScorerOptions) {
    super(options);
    this.name = name;
    if (options.ridge !== undefined && !(options.ridge >= 0 && options.ridge <= 0.1)) bad(`${name}: ridge must be in [0, 0.1], got ${options.ridge}`);
  }
  protected override isFitted(): boolean {
    return this.W !== null;
  }
  override fit(data: FitData): this {
    const f = fitFeatures(data);
    const labels = fitLabels(data, f.n);
    const d = f.d;
    const present = Array.from(new Set(labels)).sort((a, b) => a - b);
    const slot = new Map(present.map((c, i) => [c, i]));
    const sums = new Float64Array(present.length * d);
    const counts = new Float64Array(present.length);
    const mean0 = new Float64Array(d);
    for (let i = 0; i < f.n; i++) {
      const r = f.row(i);
      const s = slot.get(labels[i])!;
      counts[s]++;
      for (let j = 0; j < d; j++) {
        sums[s * d + j] += r[j];
        mean0[j] += r[j];
      }
    }
    for (let s = 0; s < present.length; s++) for (let j = 0; j < d; j++) sums[s * d + j] /= counts[s];
    for (let j = 0; j < d; j++) mean0[j] /= f.n;
    // Shared within-class covariance: (1/N) Σ (x − μ_y)(x − μ_y)ᵀ (the maximum-likelihood estimate, as OpenOOD).
    const acc = new ScatterAccumulator(d);
    const v = new Float64Array(d);
    for (let i = 0; i < f.n; i++) {
      const r = f.row(i);
      const s = slot.get(labels[i])!;
      for (let j = 0; j < d; j++) v[j] = r[j] - sums[s * d + j];
      acc.add(v);
    }
    const relRidge = this.options.ridge ?? 1e-6;
    const wc = fitWhitening(acc.finish(), d, relRidge);
    const y = new Float64Array(d);
    const means = new Float32Array(present.length * d);
    for (let s = 0; s < present.length; s++) {
      whiten(wc.W, sums.subarray(s * d, (s + 1) * d), d, y);
      for (let j = 0; j < d; j++) means[s * d + j] = y[j];
    }
    if (this.name === 'rmahalanobis') {
      // Background Gaussian: one mean and covariance over all fit features, classes ignored (Ren et al. 2021).
      const acc0 = new ScatterAccumulator(d);
      for (let i = 0; i < f.n; i++) {
        const r = f.row(i);
        for (let j = 0; j < d; j++) v[j] = r[j] - mean0[j];
        acc0.add(v);
      }
      const w0 = fitWhitening(acc0.finish(), d, relRidge);
      whiten(w0.W, mean0, d, y);
      this.W0 = w0.W;
      this.mean0 = Float32Array.from(y);
      this.ridge0Used = w0.ridge;
    }
    this.dim = d;
    this.classes = Int32Array.from(present);
    this.W = wc.W;
    this.means = means;
    this.ridgeUsed = wc.ridge;
    this.y = new Float64Array(d);
    return this;
  }
  /** Squared Mahalanobis distance to the nearest class mean, and to the background mean (relative variant; else 0). */
  distances(feature: Float32Array): { classDist2: number; nearestClass: number; backgroundDist2: number } {
    if (!this.W || !this.means || !this.classes) bad(`${this.name} is not fitted`);
    const d = this.dim;
    const x = this.needFeature(feature, d);
    const y = this.y;
    whiten(this.W, x, d, y);
    let best = Infinity;
    let bestC = -1;
    for (let c = 0; c < this.classes.length; c++) {
      const m = this.means.subarray(c * d, (c + 1) * d);
      let s = 0;
      for (let j = 0; j < d; j++) {
        const t = y[j] - m[j];
        s += t * t;
      }
      if (s < best) {
        best = s;
        bestC = this.classes[c];
      }
    }
    let bg = 0;
    if (this.W0 && this.mean0) {
      whiten(this.W0, x, d, y);
      for (let j = 0; j < d; j++) {
        const t = y[j] - this.mean0[j];
        bg += t * t;
      }
    }
    return { classDist2: best, nearestClass: bestC, backgroundDist2: bg };
  }
  protected compute(_logits: Float32Array, feature?: Float32Array): number {
    const { classDist2, backgroundDist2 } = this.distances(this.needFeature(feature, this.dim));
    // OpenOOD MDS: max_c −(x−μ_c)ᵀΣ⁻¹(x−μ_c); RMDS: max_c −(MD_c(x) − MD_0(x)).
    return this.name === 'rmahalanobis' ? -(classDist2 - backgroundDist2) : -classDist2;
  }
  protected override fittedJSON(): Record<string, unknown> {
    const d = this.dim;
    const packed = (d * (d + 1)) / 2;
    const out: Record<string, unknown> = {
      dim: d,
      classes: Array.from(this.classes!),
      ridge: this.ridgeUsed,
      whiten: encodeArray(this.W!, [packed]),
      means: encodeArray(this.means!, [this.classes!.length, d]),
    };
    if (this.name === 'rmahalanobis') {
      out.ridge0 = this.ridge0Used;
      out.whiten0 = encodeArray(this.W0!, [packed]);
      out.mean0 = encodeArray(this.mean0!, [d]);
    }
    return out;
  }
  loadFitted(f: Record<string, unknown>): void {
    const d = positiveInt(f.dim, `${this.name} fitted.dim`);
    if (!Array.isArray(f.classes) || f.classes.length === 0 || !f.classes.every((c) => Number.isInteger(c) && c >= 0)) {
      bad(`${this.name} fitted.classes must be a non-empty list of class indices`);
    }
    const C = f.classes.length;
    const packed = (d * (d + 1)) / 2;
    this.W = decodeArray(f.whiten, `${this.name}.whiten`, [packed]);
    this.means = decodeArray(f.means, `${this.name}.means`, [C, d]);
    this.ridgeUsed = typeof f.ridge === 'number' ? f.ridge : 0;
    if (this.name === 'rmahalanobis') {
      this.W0 = decodeArray(f.whiten0, `${this.name}.whiten0`, [packed]);
      this.mean0 = decodeArray(f.mean0, `${this.name}.mean0`, [d]);
      this.ridge0Used = typeof f.ridge0 === 'number' ? f.ridge0 : 0;
    }
    this.classes = Int32Array.from(f.classes as number[]);
    this.dim = d;
    this.y = new Float64Array(d);
  }
}

// --- KNN ----------------------------------------------------------------------------------------------------------

/** k-th largest of a[0..n) (quickselect; reorders a). */
function kthLargest(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  const target = k - 1; // index in descending order
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}

export class KnnScorer extends BaseScorer {
  readonly name = 'knn' as const;
  readonly needsFit = true;
  private dim = 0;
  private bank: Float32Array | null = null; // Nb×D, L2-normalised then rounded to bankDtype
  private invNorm: Float64Array = new Float64Array(0); // 1/‖bank row‖ of the rounded rows
  private sims: Float64Array = new Float64Array(0); // scratch, Nb

  constructor(options: ScorerOptions) {
    super(options);
    positiveInt(this.k, 'knn: k');
    positiveInt(this.maxBank, 'knn: maxBank');
    if (this.dtype !== 'f16' && this.dtype !== 'f32') bad(`knn: bankDtype must be 'f16' or 'f32', got ${String(this.dtype)}`);
    if (!Number.isInteger(options.seed ?? 0)) bad(`knn: seed must be an integer, got ${options.seed}`);
  }
  get k(): number {
    return this.options.k ?? 50;
  }
  private get maxBank(): number {
    return this.options.maxBank ?? 5000;
  }
  private get dtype(): ArrayDType {
    return this.options.bankDtype ?? 'f16';
  }
  get bankSize(): number {
    return this.bank ? this.bank.length / this.dim : 0;
  }
  protected override isFitted(): boolean {
    return this.bank !== null;
  }
  override fit(data: FitData): this {
    const f = fitFeatures(data);
    let idx = Array.from({ length: f.n }, (_, i) => i);
    if (f.n > this.maxBank) {
      // Partial Fisher–Yates with a seeded PRNG, then keep the chosen rows in their original order.
      const rnd = mulberry32(this.options.seed ?? 0);
      for (let i = 0; i < this.maxBank; i++) {
        const j = i + Math.floor(rnd() * (f.n - i));
        const t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
      }
      idx = idx.slice(0, this.maxBank).sort((a, b) => a - b);
    }
    if (idx.length < this.k) bad(`knn: k = ${this.k} but only ${idx.length} fit features: lower k or fit on more ID images`);
    const d = f.d;
    const bank = new Float32Array(idx.length * d);
    idx.forEach((src, r) => {
      const x = f.row(src);
      let nn = 0;
      for (let j = 0; j < d; j++) nn += x[j] * x[j];
      const inv = 1 / Math.max(Math.sqrt(nn), 1e-12);
      for (let j = 0; j < d; j++) bank[r * d + j] = x[j] * inv;
    });
    this.setBank(roundTo(this.dtype, bank), d);
    return this;
  }
  private setBank(bank: Float32Array, d: number): void {
    const n = bank.length / d;
    if (n < this.k) bad(`knn: k = ${this.k} exceeds the ${n} stored ID features`);
    this.invNorm = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      let nn = 0;
      for (let j = 0; j < d; j++) nn += bank[r * d + j] * bank[r * d + j];
      this.invNorm[r] = 1 / Math.max(Math.sqrt(nn), 1e-12);
    }
    this.bank = bank;
    this.dim = d;
    this.sims = new Float64Array(n);
  }
  /** Euclidean distance between unit vectors, √(2 − 2·cos), from the feature to its k-th nearest stored ID feature. */
  kthDistance(feature: Float32Array): number {
    if (!this.bank) bad('knn is not fitted');
    const d = this.dim;
    const x = this.needFeature(feature, d);
    let nn = 0;
    for (let j = 0; j < d; j++) nn += x[j] * x[j];
    const inv = 1 / Math.max(Math.sqrt(nn), 1e-12);
    const bank = this.bank;
    const n = this.sims.length;
    for (let r = 0; r < n; r++) {
      const o = r * d;
      let s = 0;
      for (let j = 0; j < d; j++) s += bank[o + j] * x[j];
      this.sims[r] = s * inv * this.invNorm[r];
    }
    const cos = kthLargest(this.sims, n, this.k);
    return Math.sqrt(Math.max(0, 2 - 2 * cos));
  }
  protected compute(_logits: Float32Array, feature?: Float32Array): number {
    return -this.kthDistance(this.needFeature(feature, this.dim));
  }
  protected override fittedJSON(): Record<string, unknown> {
    return { dim: this.dim, bank: encodeArray(this.bank!, [this.bankSize, this.dim], this.dtype) };
  }
  loadFitted(f: Record<string, unknown>): void {
    const d = positiveInt(f.dim, 'knn fitted.dim');
    const enc = f.bank as EncodedArray;
    const bank = decodeArray(enc, 'knn.bank');
    if (enc.shape.length !== 2 || enc.shape[1] !== d) bad(`knn.bank has shape ${JSON.stringify(enc.shape)}, expected [N, ${d}]`);
    this.setBank(bank, d);
  }
}

// --- ViM ----------------------------------------------------------------------------------------------------------

export function defaultPrincipalDim(dim: number): number {
  if (dim >= 2048) return 1000;
  if (dim >= 768) return 512;
  return Math.max(1, Math.floor(dim / 2));
}

export class VimScorer extends BaseScorer {
  readonly name = 'vim' as const;
  readonly needsFit = true;
  private dim = 0;
  private numClasses = 0;
  private origin: Float32Array | null = null; // u = −W⁺b, D
  private residualBasis: Float32Array | null = null; // (D−k)×D: rows span the complement of the principal subspace
  private alpha = 0;
  private centred: Float64Array = new Float64Array(0); // scratch, D

  constructor(options: ScorerOptions) {
    super(options);
    if (options.principalDim !== undefined) positiveInt(options.principalDim, 'vim: principalDim');
    if (options.alpha !== undefined) positiveNumber(options.alpha, 'vim: alpha');
  }
  protected override isFitted(): boolean {
    return this.origin !== null;
  }
  /** The fitted α (the residual norm's weight). */
  get fittedAlpha(): number {
    return this.alpha;
  }
  override fit(data: FitData): this {
    const f = fitFeatures(data);
    const d = f.d;
    const { C } = checkHead(data.head, d, 'vim');
    const head = data.head!;
    const k = this.options.principalDim ?? defaultPrincipalDim(d);
    if (k >= d) bad(`vim: principalDim ${k} must be smaller than the feature width ${d}`);
    // Origin: the point the head maps to zero logits, u = −W⁺b (minimum norm).
    const u = pinvSolve(head.weight, C, d, head.bias).map((v) => -v);
    const origin = Float32Array.from(u);
    // Principal subspace of the features centred at u (uncentred second moment about u, as the paper's code).
    const acc = new ScatterAccumulator(d);
    const v = new Float64Array(d);
    for (let i = 0; i < f.n; i++) {
      const r = f.row(i);
      for (let j = 0; j < d; j++) v[j] = r[j] - origin[j];
      acc.add(v);
    }
    const { vectors } = symmetricEigen(acc.finish(), d);
    this.residualBasis = Float32Array.from(vectors.subarray(k * d, d * d));
    this.origin = origin;
    this.dim = d;
    this.numClasses = C;
    this.centred = new Float64Array(d);
    if (this.options.alpha !== undefined) {
      this.alpha = this.options.alpha;
      return this;
    }
    // α = mean max-logit / mean residual norm over the fit set.
    const logits = data.logits ? rowsOf(data.logits, C, 'logits') : null;
    if (logits && (logits.n !== f.n || logits.d !== C)) throw new VitguardError('E_INPUT', `fit.logits is ${logits.n}×${logits.d}, expected ${f.n}×${C}`);
    let sumMax = 0;
    let sumRes = 0;
    for (let i = 0; i < f.n; i++) {
      const x = f.row(i);
      let m = -Infinity;
      if (logits) m = maxOf(logits.row(i));
      else {
        for (let c = 0; c < C; c++) {
          let z = head.bias[c];
          for (let j = 0; j < d; j++) z += head.weight[c * d + j] * x[j];
          if (z > m) m = z;
        }
      }
      sumMax += m;
      sumRes += this.residualNorm(x);
    }
    const alpha = sumMax / sumRes;
    if (!(alpha > 0) || !Number.isFinite(alpha)) {
      this.origin = null;
      bad(`vim: α = mean max-logit ${(sumMax / f.n).toPrecision(4)} / mean residual norm ${(sumRes / f.n).toPrecision(4)} is not positive and finite; ` +
        'lower principalDim or pass options.alpha');
    }
    this.alpha = alpha;
    return this;
  }
  /** ‖(x − u) projected off the principal subspace‖. */
  residualNorm(feature: Float32Array): number {
    if (!this.origin || !this.residualBasis) bad('vim is not fitted');
    const d = this.dim;
    const x = this.needFeature(feature, d);
    const c = this.centred;
    for (let j = 0; j < d; j++) c[j] = x[j] - this.origin[j];
    const B = this.residualBasis;
    const rows = B.length / d;
    let ss = 0;
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      let s = 0;
      for (let j = 0; j < d; j++) s += B[o + j] * c[j];
      ss += s * s;
    }
    return Math.sqrt(ss);
  }
  protected compute(logits: Float32Array, feature?: Float32Array): number {
    if (logits.length !== this.numClasses) throw new VitguardError('E_INPUT', `vim: logits have ${logits.length} classes, fitted on ${this.numClasses}`);
    // Wang et al. 2022 / OpenOOD: energy − α·‖x^{P⊥}‖ (higher = more ID).
    return energyScore(logits) - this.alpha * this.residualNorm(this.needFeature(feature, this.dim));
  }
  protected override fittedJSON(): Record<string, unknown> {
    const d = this.dim;
    return {
      dim: d,
      numClasses: this.numClasses,
      alpha: this.alpha,
      origin: encodeArray(this.origin!, [d]),
      residualBasis: encodeArray(this.residualBasis!, [this.residualBasis!.length / d, d]),
    };
  }
  loadFitted(f: Record<string, unknown>): void {
    const d = positiveInt(f.dim, 'vim fitted.dim');
    const C = positiveInt(f.numClasses, 'vim fitted.numClasses');
    const alpha = positiveNumber(f.alpha, 'vim fitted.alpha');
    const enc = f.residualBasis as EncodedArray;
    const B = decodeArray(enc, 'vim.residualBasis');
    if (enc.shape.length !== 2 || enc.shape[1] !== d || enc.shape[0] >= d) bad(`vim.residualBasis has shape ${JSON.stringify(enc.shape)}, expected [D−k, ${d}]`);
    this.origin = decodeArray(f.origin, 'vim.origin', [d]);
    this.residualBasis = B;
    this.alpha = alpha;
    this.dim = d;
    this.numClasses = C;
    this.centred = new Float64Array(d);
  }
}

// --- construction and (de)serialisation ---------------------------------------------------------------------------

const OPTION_KEYS: Record<ScorerName, (keyof ScorerOptions)[]> = {
  msp: [],
  maxlogit: [],
  energy: ['temperature'],
  gen: ['gamma', 'topM'],
  mahalanobis: ['ridge'],
  rmahalanobis: ['ridge'],
  knn: ['k', 'maxBank', 'bankDtype', 'seed'],
  vim: ['principalDim', 'alpha'],
};

/** A new (unfitted) scorer. Options that do not apply to `name` are an error, so typos do not pass silently. */
export function createScorer(name: ScorerName, options: ScorerOptions = {}): Scorer & { loadFitted(f: Record<string, unknown>): void } {
  if (!isScorerName(name)) bad(`unknown OOD method ${JSON.stringify(name)}; known: ${SCORER_NAMES.join(', ')}`);
  const opts: ScorerOptions = {};
  for (const [k, v] of Object.entries(options ?? {})) {
    if (v === undefined) continue;
    if (!OPTION_KEYS[name].includes(k as keyof ScorerOptions)) {
      bad(`option "${k}" does not apply to OOD method ${name}${OPTION_KEYS[name].length ? ` (it takes ${OPTION_KEYS[name].join(', ')})` : ''}`);
    }
    (opts as Record<string, unknown>)[k] = v;
  }
  switch (name) {
    case 'msp':
      return new LogitScorer(name, opts, mspScore);
    case 'maxlogit':
      return new LogitScorer(name, opts, maxLogitScore);
    case 'energy': {
      const T = opts.temperature === undefined ? 1 : positiveNumber(opts.temperature, 'energy: temperature');
      return new LogitScorer(name, opts, (z) => energyScore(z, T));
    }
    case 'gen': {
      const gamma = opts.gamma === undefined ? 0.1 : positiveNumber(opts.gamma, 'gen: gamma');
      const M = opts.topM === undefined ? 100 : positiveInt(opts.topM, 'gen: topM');
      return new LogitScorer(name, opts, (z) => genScore(z, gamma, M));
    }
    case 'mahalanobis':
    case 'rmahalanobis':
      return new MahalanobisScorer(name, opts);
    case 'knn':
      return new KnnScorer(opts);
    case 'vim':
      return new VimScorer(opts);
  }
}

/** Create and fit in one call. */
export function fitScorer(name: ScorerName, data: FitData, options: ScorerOptions = {}): Scorer {
  return createScorer(name, options).fit(data);
}

/** Rebuild a scorer from toJSON() output (an object or its JSON string). */
export function scorerFromJSON(json: ScorerJSON | string): Scorer {
  const o = parseTaggedJSON(json, SCORER_JSON_FORMAT, 'OOD scorer');
  if (!isScorerName(o.method)) bad(`OOD scorer JSON names unknown method ${JSON.stringify(o.method)}`);
  const s = createScorer(o.method, (o.options ?? {}) as ScorerOptions);
  if (s.needsFit) {
    if (typeof o.fitted !== 'object' || o.fitted === null) bad(`OOD scorer JSON for ${o.method} has no fitted statistics (run fit first)`);
    s.loadFitted(o.fitted);
  }
  return s;
}

/** Scores of many images: logits[i] and features[i] belong to image i. */
export function scoreAll(scorer: Scorer, logits: Float32Array[], features?: Float32Array[]): Float64Array {
  if (features && features.length !== logits.length) throw new VitguardError('E_INPUT', `scoreAll: ${logits.length} logit vectors but ${features.length} features`);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = scorer.score(logits[i], features?.[i]);
  return out;
}
