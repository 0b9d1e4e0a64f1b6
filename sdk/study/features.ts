// Features of a dataset through one engine, computed once and shared by every scorer and metric of the study.
//
//   FeatureSet: per image  logits (C), feature (D, class token after the final norm), label (−1 for unlabelled sets)
//   Images are preprocessed with the model's own preprocessing and run maxBatch at a time.

import { VitguardError } from '../errors.js';
import type { Engine, ForwardOptions, ForwardResult } from '../engine/index.js';
import type { ModelFile, ModelMeta } from '../format/model.js';
import { preprocess } from '../image/preprocess.js';
import { openDataset, type Dataset, type OpenDatasetOptions, type Sample } from '../data/index.js';

export interface FeatureSet {
  /** The spec the images came from (after --limit was applied). */
  spec: string;
  n: number;
  logits: Float32Array[]; // n × [C]
  features: Float32Array[]; // n × [D]
  labels: Int32Array; // n; −1 where the set has no classes
  /** Wall-clock milliseconds per image of the forward passes (preprocessing excluded). */
  msPerImage: number;
}

/**
 * `spec` limited to `limit` images: an explicit `:N` in the spec wins; otherwise `:limit` is appended (a seeded,
 * class-balanced sample; for noise the image count). No limit → the spec as is.
 */
export function limitSpec(spec: string, limit?: number): string {
  if (limit === undefined || /:\d+$/.test(spec)) return spec;
  return `${spec}:${limit}`;
}

/** Open a dataset and refuse an empty one with a message naming it (never a silent metric over nothing). */
export async function openNonEmpty(spec: string, role: string, opts: OpenDatasetOptions): Promise<Dataset> {
  const ds = await openDataset(spec, opts);
  if (ds.size === 0) throw new VitguardError('E_DATA', `${role} set "${spec}" has no images (${ds.location})`);
  return ds;
}

/** One dataset sample → normalised CHW [inChans, imgSize, imgSize] with the model's own preprocessing. */
export function sampleTensor(meta: ModelMeta, s: Sample): Float32Array {
  const { config: c, preprocessing } = meta;
  return preprocess({ data: s.pixels, width: s.width, height: s.height, channels: s.channels }, preprocessing, c.imgSize, c.inChans);
}

/** Normalised CHW of the first n images of ds (fewer if ds is smaller) for `file`'s preprocessing: [m, C, S, S]. */
export async function calibrationImages(file: ModelFile, ds: Dataset, n: number): Promise<{ images: Float32Array; n: number; spec: string }> {
  const c = file.meta.config;
  const per = c.inChans * c.imgSize * c.imgSize;
  const m = Math.min(n, ds.size);
  const images = new Float32Array(m * per);
  for (let i = 0; i < m; i++) images.set(sampleTensor(file.meta, await ds.at(i)), i * per);
  return { images, n: m, spec: ds.spec };
}

/**
 * Run every image of `ds` through `engine`; `each` (optional) sees every forward result with its sample index
 * (for diagnostics that need attention or hidden states), `fwd` says which extra outputs to compute.
 */
export async function extractFeatures(
  engine: Engine,
  ds: Dataset,
  opts: { fwd?: ForwardOptions; each?: (r: ForwardResult, index: number, sample: Sample) => void; onImages?: (n: number) => void } = {},
): Promise<FeatureSet> {
  const meta: ModelMeta = engine.meta;
  const c = meta.config;
  const per = c.inChans * c.imgSize * c.imgSize;
  const B = engine.maxBatch;
  const chw = new Float32Array(per * B);
  const out: FeatureSet = { spec: ds.spec, n: 0, logits: [], features: [], labels: new Int32Array(ds.size), msPerImage: 0 };
  let pending: Sample[] = [];
  let ms = 0;
  const flush = () => {
    pending.forEach((s, j) => chw.set(sampleTensor(meta, s), j * per));
    const t0 = performance.now();
    const res = engine.forwardBatch(chw.subarray(0, pending.length * per), pending.length, opts.fwd ?? {});
    ms += performance.now() - t0;
    res.forEach((r, j) => {
      const i = out.n++;
      out.logits.push(r.logits);
      out.features.push(r.feature);
      out.labels[i] = pending[j].label;
      opts.each?.(r, i, pending[j]);
    });
    opts.onImages?.(pending.length);
    pending = [];
  };
  for await (const s of ds) {
    pending.push(s);
    if (pending.length === B) flush();
  }
  if (pending.length) flush();
  if (out.n === 0) throw new VitguardError('E_DATA', `"${ds.spec}" yielded no images`);
  out.labels = out.labels.subarray(0, out.n);
  out.msPerImage = ms / out.n;
  return out;
}

/** Top-1 accuracy of a labelled feature set. */
export function top1(set: FeatureSet): number {
  let correct = 0, labelled = 0;
  for (let i = 0; i < set.n; i++) {
    if (set.labels[i] < 0) continue;
    labelled++;
    const z = set.logits[i];
    let arg = 0;
    for (let j = 1; j < z.length; j++) if (z[j] > z[arg]) arg = j;
    if (arg === set.labels[i]) correct++;
  }
  if (labelled === 0) throw new VitguardError('E_DATA', `"${set.spec}" has no class labels to score accuracy against`);
  return correct / labelled;
}
