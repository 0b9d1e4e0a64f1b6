// One fuzz case, generated and judged. Generation is a pure function of (seed, kind, index); judging runs the input
// through the path a user's input takes and accepts exactly two endings:
//   a correct result — top-k probabilities finite, in [0, 1], sorted, from the model's labels; an OOD verdict with a
//     finite score and a threshold it agrees with; a decoded image whose pixel buffer matches its size — or
//   a VitguardError with a known code.
// Anything else (a TypeError, a RangeError, a wasm trap that escapes, NaN in a result) is a failure.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Classifier, type ClassifyResult } from '../../sdk/classifier.js';
import { isVitguardError } from '../../sdk/errors.js';
import { readModel } from '../../sdk/format/model.js';
import { decodeImage, EDGE_IMAGE_LIMITS } from '../../sdk/image/decode.js';
import { mutateImage } from './mutate-image.js';
import { mutateModel } from './mutate-model.js';
import { caseRng, type FuzzKind } from './rng.js';
import { randomConfigModel, ROOT, seedImages, seedModels } from './seeds.js';

/** The error codes sdk/errors.ts declares (read from the source, so a code added there is known here). */
export const KNOWN_CODES: ReadonlySet<string> = new Set(
  [...readFileSync(join(ROOT, 'sdk', 'errors.ts'), 'utf8').matchAll(/\|\s*'(E_[A-Z0-9_]+)'/g)].map((m) => m[1]),
);

export interface FuzzCase {
  kind: FuzzKind;
  seed: number;
  index: number;
  /** Which seed file was mutated. */
  from: string;
  mutations: string[];
  bytes: Uint8Array;
}

export function generateCase(kind: FuzzKind, seed: number, index: number): FuzzCase {
  const rng = caseRng(seed, kind, index);
  if (kind === 'model' && rng.chance(0.15)) {
    // a fresh model of a random config, then as many mutations as any other case (none a third of the time)
    const fresh = randomConfigModel(rng);
    const extra = rng.chance(0.35) ? { bytes: fresh.bytes, mutations: [] } : mutateModel(rng, fresh.bytes, () => rng.pick(seedModels()).bytes);
    return { kind, seed, index, from: fresh.what, mutations: extra.mutations, bytes: extra.bytes };
  }
  const pool = kind === 'model' ? seedModels() : seedImages();
  // small random models are cheap to run: draw them twice as often as the shipped ones
  const weights = pool.map((s) => [s, s.name.startsWith('random:') ? 2 : 1] as const);
  const base = rng.weighted(weights);
  const other = () => rng.pick(pool).bytes;
  const { bytes, mutations } = kind === 'model' ? mutateModel(rng, base.bytes, other) : mutateImage(rng, base.bytes, other);
  return { kind, seed, index, from: base.name, mutations, bytes };
}

export type Outcome =
  | { status: 'ok'; detail: string }
  | { status: 'error'; code: string }
  | { status: 'fail'; reason: string };

/** Why a result is not a correct one, or null when it is. */
export function resultProblem(r: ClassifyResult, labels: string[], k: number): string | null {
  if (!r || !Array.isArray(r.top)) return 'no top-k list';
  const want = Math.max(1, Math.min(k, labels.length));
  if (r.top.length !== want) return `top has ${r.top.length} entries, expected ${want}`;
  let sum = 0;
  for (let i = 0; i < r.top.length; i++) {
    const t = r.top[i];
    if (!Number.isInteger(t.index) || t.index < 0 || t.index >= labels.length) return `top[${i}].index ${t.index} out of range`;
    if (t.label !== labels[t.index]) return `top[${i}].label ${JSON.stringify(t.label)} is not labels[${t.index}]`;
    if (!(Number.isFinite(t.prob) && t.prob >= 0 && t.prob <= 1)) return `top[${i}].prob is ${t.prob}`;
    if (i > 0 && t.prob > r.top[i - 1].prob) return 'top is not sorted';
    sum += t.prob;
  }
  if (sum > 1 + 1e-6) return `top probabilities sum to ${sum}`;
  if (want === labels.length && Math.abs(sum - 1) > 1e-4) return `probabilities over all ${want} classes sum to ${sum}`;
  const o = r.ood;
  if (!o || typeof o.method !== 'string') return 'no OOD verdict';
  if (!Number.isFinite(o.score)) return `OOD score is ${o.score}`;
  if (o.threshold === null) {
    if (o.isOOD !== null) return 'isOOD without a threshold';
  } else {
    if (!Number.isFinite(o.threshold)) return `OOD threshold is ${o.threshold}`;
    if (o.isOOD !== o.score < o.threshold) return `isOOD ${o.isOOD} disagrees with score ${o.score} < threshold ${o.threshold}`;
  }
  if (!Number.isFinite(r.timings.preprocessMs) || !Number.isFinite(r.timings.inferMs)) return 'timings not finite';
  return null;
}

/** A thrown value → the outcome it stands for. */
function judgeError(e: unknown): Outcome {
  if (isVitguardError(e)) {
    const code = (e as { code: string }).code;
    if (!KNOWN_CODES.has(code)) return { status: 'fail', reason: `VitguardError with an undeclared code ${code}: ${(e as Error).message}` };
    if (!(e as Error).message || (e as Error).message.length < 8) return { status: 'fail', reason: `${code} without a message that says what is wrong` };
    return { status: 'error', code };
  }
  const name = e instanceof Error ? e.constructor.name : typeof e;
  const msg = e instanceof Error ? e.message : String(e);
  return { status: 'fail', reason: `untyped ${name}: ${msg.slice(0, 300)}` };
}

// --- the two paths ------------------------------------------------------------------------------------------------

/** The images a mutated model classifies: one grey 28×28 (Fashion-MNIST) and one colour 32×32 (CIFAR-10) sample. */
let probeImages: Uint8Array[] | null = null;
function probes(): Uint8Array[] {
  probeImages ??= ['fmnist-Sandal-8.png', 'cifar10-airplane-0.png'].map((f) => new Uint8Array(readFileSync(join(ROOT, 'demos', 'samples', f))));
  return probeImages;
}

/**
 * The memory limit mutated models load under (Classifier.create's maxMemoryBytes): lower than the 1 GiB default so
 * that a model the limit admits stays inside the runner's per-case memory bound (--mem-mb, 384 MB by default).
 */
export const FUZZ_MODEL_MEMORY_BYTES = 256 * 2 ** 20;

/** Model bytes → readModel → Classifier.create → one classify → dispose. */
export async function runModelCase(bytes: Uint8Array, index = 0): Promise<Outcome> {
  let clf: Classifier | null = null;
  try {
    const file = readModel(bytes);
    clf = await Classifier.create(file, { maxMemoryBytes: FUZZ_MODEL_MEMORY_BYTES });
    const r = clf.classify(probes()[index % 2], { topK: 5 });
    const problem = resultProblem(r, file.meta.labels, 5);
    if (problem) return { status: 'fail', reason: `model loaded but its result is wrong: ${problem}` };
    return { status: 'ok', detail: `${file.meta.scheme.name} → ${r.top[0].label}` };
  } catch (e) {
    return judgeError(e);
  } finally {
    try { clf?.dispose(); } catch { /* judged above */ }
  }
}

/**
 * The decode budget of the classifier images are judged with (its maxDecodeBytes): below the 512 MiB default so that
 * what the budget admits stays inside the runner's per-case memory bound (--mem-mb, 384 MB by default).
 */
export const FUZZ_DECODE_BYTES = 128 * 2 ** 20;

/** The classifier images are judged with: the shipped DeiT3 model (28×28 grey input, fitted Mahalanobis detector). */
let imageClassifier: Promise<Classifier> | null = null;
export function classifierForImages(): Promise<Classifier> {
  imageClassifier ??= Classifier.create(new Uint8Array(readFileSync(join(ROOT, 'models', 'fmnist-deit3.safetensors'))), { maxDecodeBytes: FUZZ_DECODE_BYTES });
  return imageClassifier;
}

/**
 * Image bytes through one of the two paths images take, alternately by case index:
 *   even: the SDK's own, classify(bytes) — decoded reduced to the model's resize target under the classifier's limits;
 *   odd:  the Cloudflare demo's — decodeImage(bytes, { ...EDGE_IMAGE_LIMITS, minShortSide }), the decoded image
 *         checked, then classify(pixels).
 */
export async function runImageCase(bytes: Uint8Array, index = 0): Promise<Outcome> {
  const clf = await classifierForImages();
  const { config, preprocessing, labels } = clf.model.meta;
  try {
    if (index % 2 === 0) {
      const r = clf.classify(bytes, { topK: 5 });
      const problem = resultProblem(r, labels, 5);
      return problem ? { status: 'fail', reason: `image classified but the result is wrong: ${problem}` } : { status: 'ok', detail: 'classify(bytes)' };
    }
    const minShortSide = Math.floor(config.imgSize / preprocessing.cropPct + 1e-9);
    const d = decodeImage(bytes, { ...EDGE_IMAGE_LIMITS, minShortSide });
    if (!(Number.isInteger(d.width) && Number.isInteger(d.height) && d.width > 0 && d.height > 0)) return { status: 'fail', reason: `decoded size ${d.width}×${d.height}` };
    if (d.width * d.height > EDGE_IMAGE_LIMITS.maxPixels) return { status: 'fail', reason: `decoded ${d.width}×${d.height}, over maxPixels` };
    if (!(d.data instanceof Uint8Array) || d.data.length !== d.width * d.height * 4) return { status: 'fail', reason: `decoded ${d.data?.length} bytes for ${d.width}×${d.height} RGBA` };
    if (![1, 3, 4].includes(d.channels)) return { status: 'fail', reason: `decoded channels ${d.channels}` };
    const r = clf.classify({ data: d.data, width: d.width, height: d.height, channels: 4 }, { topK: 5 });
    const problem = resultProblem(r, labels, 5);
    if (problem) return { status: 'fail', reason: `image decoded but the result is wrong: ${problem}` };
    return { status: 'ok', detail: `${d.format} ${d.width}×${d.height}` };
  } catch (e) {
    return judgeError(e);
  }
}

export function runCase(kind: FuzzKind, bytes: Uint8Array, index = 0): Promise<Outcome> {
  return kind === 'model' ? runModelCase(bytes, index) : runImageCase(bytes, index);
}
