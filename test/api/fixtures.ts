// A small random model (28×28 grey, Fashion-MNIST shaped) and images for the API tests: a real forward pass runs,
// the numbers are arbitrary but deterministic, so in-thread and worker answers can be compared exactly.

import { encode as encodePng } from 'fast-png';
import { encodeMeta, type ModelMeta, type ViTConfig } from '../../sdk/format/model.js';
import { writeSafetensors } from '../../sdk/format/safetensors.js';
import { mulberry32, randomCheckpoint } from '../../sdk/model/random.js';

export const FMNIST_LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export const SMALL_CONFIG: ViTConfig = {
  imgSize: 28, patch: 7, inChans: 1, dim: 32, depth: 2, heads: 2, mlpHidden: 64, numClasses: 10,
  distilled: false, layerScale: false, noEmbedClass: false, eps: 1e-6,
};

/** The model file: a random timm-layout ViT at SMALL_CONFIG (or the config given) with vitguard metadata. */
export function smallModel(seed = 1, config: ViTConfig = SMALL_CONFIG, arch = 'vit_fmnist_test'): Uint8Array {
  const meta: ModelMeta = {
    arch, config, labels: FMNIST_LABELS.slice(0, config.numClasses),
    preprocessing: { mean: [0.5], std: [0.5], cropPct: 1, interpolation: 'bicubic' },
    scheme: { name: 'fp32' }, extra: {},
  };
  return writeSafetensors(randomCheckpoint(config, seed), encodeMeta(meta));
}

/** An RGBA image of w×h with seeded random pixels (opaque). */
export function randomRgba(seed: number, w = 28, h = 28): { data: Uint8Array; width: number; height: number } {
  const rand = mulberry32(seed);
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    const v = Math.floor(rand() * 256);
    data.set([v, Math.floor(rand() * 256), v, 255], i * 4);
  }
  return { data, width: w, height: h };
}

/** A grey PNG of w×h with seeded random pixels. */
export function randomPng(seed: number, w = 28, h = 28): Uint8Array {
  const rand = mulberry32(seed);
  const data = new Uint8Array(w * h);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rand() * 256);
  return encodePng({ width: w, height: h, data, channels: 1, depth: 8 });
}

/** The kernel binaries built by `npm run build:wasm`. */
export const WASM_BASE = new URL('../../build/', import.meta.url);

/** Settles within ms or fails the test: "nothing hangs" made checkable. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms); });
  try { return await Promise.race([p, limit]); } finally { clearTimeout(timer); }
}
