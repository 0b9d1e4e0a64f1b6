// The fuzzer's starting points, the same in every process for the same checkout (nothing random without a seed):
//   models: the shipped models/*.safetensors (fp32, w8a8, w4a8, with fitted Mahalanobis detectors), and small random
//           ViT / DeiT (distilled) / DeiT3 (layer scale) models from sdk/model, quantized with quantizeModel to every
//           scheme, some carrying a fitted KNN, ViM or energy detector;
//   images: demos/samples (PNG), test/fixtures/data/grey-8x8.jpg, test/fixtures/images/** (the decoders' fixtures:
//           bombs, phone photos, progressive, CMYK, EXIF-rotated, interlaced, 16-bit, palette...), and PNG/JPEG
//           encodings made here of every colour type and bit depth the encoders write (grey, grey+alpha, RGB, RGBA,
//           palette, 1/2/4/16-bit, Adam7-interlaced; baseline JPEG in colour and grey).

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode as encodePng, decode as decodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { encodeMeta, readModel, type ModelMeta, type ViTConfig } from '../../sdk/format/model.js';
import { toFloat32, writeSafetensors } from '../../sdk/format/safetensors.js';
import { mulberry32, randomCheckpoint } from '../../sdk/model/random.js';
import { quantizeModel } from '../../sdk/quant/index.js';
import { fitScorer, calibrateDetector, withDetector, type ScorerName } from '../../sdk/ood/index.js';
import type { Rng } from './rng.js';

/** The repository root: this file runs from test/fuzz (vitest) or lib/test/fuzz (compiled, `npm run fuzz`). */
export const ROOT = (() => {
  const here = fileURLToPath(new URL('../../', import.meta.url));
  return existsSync(join(here, 'package.json')) ? here : join(here, '..');
})();

export interface Seed {
  name: string;
  bytes: Uint8Array;
}

// --- models ---------------------------------------------------------------------------------------------------

const SMALL: ViTConfig = {
  imgSize: 28, patch: 7, inChans: 1, dim: 32, depth: 2, heads: 2, mlpHidden: 64, numClasses: 10,
  distilled: false, layerScale: false, noEmbedClass: false, eps: 1e-6,
};

function smallMeta(arch: string, config: ViTConfig): ModelMeta {
  const mean = Array(config.inChans).fill(0.5);
  return {
    arch, config, labels: Array.from({ length: config.numClasses }, (_, i) => `class-${i}`),
    preprocessing: { mean, std: mean, cropPct: 0.875, interpolation: 'bicubic' },
    scheme: { name: 'fp32' }, extra: {},
  };
}

function smallModel(arch: string, config: ViTConfig, seed: number): Uint8Array {
  return writeSafetensors(randomCheckpoint(config, seed), encodeMeta(smallMeta(arch, config)));
}

/** A detector fitted on random features and logits (the statistics are arbitrary; their encoding is what is fuzzed). */
function withRandomDetector(bytes: Uint8Array, method: ScorerName, seed: number): Uint8Array {
  const file = readModel(bytes);
  const { dim, numClasses } = file.meta.config;
  const rand = mulberry32(seed);
  const n = 60;
  const features = Array.from({ length: n }, () => Float32Array.from({ length: dim }, () => rand() * 2 - 1));
  const logits = Array.from({ length: n }, () => Float32Array.from({ length: numClasses }, () => rand() * 4 - 2));
  const labels = Int32Array.from({ length: n }, (_, i) => i % numClasses);
  const opts = method === 'knn' ? { k: 5 } : method === 'vim' ? { principalDim: 8 } : {};
  const head = { weight: Float32Array.from(toFloat32(file.tensors.get('head.weight')!)), bias: Float32Array.from(toFloat32(file.tensors.get('head.bias')!)) };
  const scorer = fitScorer(method, { features, logits, labels, head }, opts);
  const det = calibrateDetector(scorer, { logits: logits.slice(0, 30), features: features.slice(0, 30) }, { scheme: file.meta.scheme.name });
  const meta = withDetector(file.meta, det);
  return writeSafetensors(file.tensors, encodeMeta(meta));
}

/**
 * A model made on the spot from a random but self-consistent config (tensor shapes agree with it), so the case gets
 * past every shape check into the engine's memory plan and forward pass: 1 to 4 channels, patches from 1 pixel to the
 * whole image, one class, one head per channel, up to ~16k tokens over a tiny width (the arena bomb: a small file
 * whose attention needs heads·T² floats), quantized to a random scheme where its widths allow.
 */
export function randomConfigModel(rng: Rng): { bytes: Uint8Array; what: string } {
  let imgSize = rng.pick([2, 4, 8, 16, 28, 32, 48, 64, 224, 512, 1024]);
  const inChans = rng.pick([1, 3, 3, 4]);
  const dim = rng.pick([1, 2, 4, 8, 16, 32, 64]);
  // keep the file small: the position embedding is T·dim floats, the patch embedding dim·C·P² floats
  const small = (p: number) => (imgSize / p) ** 2 * dim <= 300_000 && p * p * inChans * dim <= 300_000;
  let divisors = Array.from({ length: imgSize }, (_, i) => i + 1).filter((d) => imgSize % d === 0 && small(d));
  if (!divisors.length) {
    imgSize = 32;
    divisors = [1, 2, 4, 8, 16, 32].filter(small);
  }
  const patch = rng.pick(divisors);
  const config: ViTConfig = {
    imgSize, patch, inChans, dim,
    depth: rng.pick([1, 1, 2, 3]),
    heads: rng.pick(Array.from({ length: dim }, (_, i) => i + 1).filter((h) => dim % h === 0)),
    mlpHidden: rng.pick([1, 3, 32, 64, 4 * dim]),
    numClasses: rng.pick([1, 2, 10, 100]),
    distilled: rng.chance(0.3), layerScale: rng.chance(0.3), noEmbedClass: rng.chance(0.3),
    eps: rng.pick([1e-6, 1e-12, 0.5]),
  };
  const meta = smallMeta('random_config', config);
  meta.preprocessing.interpolation = rng.chance(0.5) ? 'bicubic' : 'bilinear';
  meta.preprocessing.cropPct = rng.pick([1, 0.875, 0.01]);
  let bytes = writeSafetensors(randomCheckpoint(config, rng.int(1000)), encodeMeta(meta));
  let scheme = 'fp32';
  if (rng.chance(0.4)) {
    scheme = rng.pick(['w8a8', 'w4a8', 'w4a16', 'w4a4']);
    try {
      const q = quantizeModel(readModel(bytes), { scheme, edges: rng.pick(['fp32', 'int8', 'int4'] as const) });
      bytes = writeSafetensors(q.tensors, q.metadata);
    } catch {
      scheme = 'fp32 (quantization refused)';
    }
  }
  const T = (imgSize / patch) ** 2 + 1 + (config.distilled ? 1 : 0);
  return { bytes, what: `random config ${imgSize}px/${patch} C${inChans} D${dim} H${config.heads} depth ${config.depth} mlp ${config.mlpHidden} ${config.numClasses} classes (T ${T}), ${scheme}` };
}

let modelSeeds: Seed[] | null = null;

export function seedModels(): Seed[] {
  if (modelSeeds) return modelSeeds;
  const out: Seed[] = [];
  const dir = join(ROOT, 'models');
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.safetensors')).sort()) {
    out.push({ name: `models/${f}`, bytes: new Uint8Array(readFileSync(join(dir, f))) });
  }
  const vit = smallModel('vit_small_fuzz', SMALL, 1);
  const deit = smallModel('deit_small_fuzz', { ...SMALL, distilled: true }, 2);
  const deit3 = smallModel('deit3_small_fuzz', { ...SMALL, inChans: 3, layerScale: true, noEmbedClass: true }, 3);
  out.push({ name: 'random:vit', bytes: vit }, { name: 'random:deit', bytes: deit }, { name: 'random:deit3', bytes: deit3 });
  for (const scheme of ['w8a8', 'w4a8', 'w4a16', 'w4a4']) {
    for (const [name, bytes] of [['vit', vit], ['deit', deit], ['deit3', deit3]] as const) {
      const q = quantizeModel(readModel(bytes), { scheme });
      out.push({ name: `random:${name}-${scheme}`, bytes: writeSafetensors(q.tensors, q.metadata) });
    }
  }
  out.push(
    { name: 'random:vit+knn', bytes: withRandomDetector(vit, 'knn', 4) },
    { name: 'random:deit+vim', bytes: withRandomDetector(deit, 'vim', 5) },
    { name: 'random:deit3+energy', bytes: withRandomDetector(deit3, 'energy', 6) },
    { name: 'random:vit+rmahalanobis', bytes: withRandomDetector(vit, 'rmahalanobis', 7) },
  );
  modelSeeds = out;
  return out;
}

// --- images ---------------------------------------------------------------------------------------------------

/** Largest seed image file read from disk: bigger ones would make every case slow without finding more. */
const MAX_SEED_IMAGE_BYTES = 4 * 1024 * 1024;

let imageSeeds: Seed[] | null = null;

export function seedImages(): Seed[] {
  if (imageSeeds) return imageSeeds;
  const out: Seed[] = [];
  const addDir = (rel: string) => {
    const dir = join(ROOT, rel);
    if (!existsSync(dir)) return;
    for (const f of readdirSync(dir).sort()) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) { addDir(`${rel}/${f}`); continue; }
      // decoded references (*.ref.png, *.ref-s2.png) repeat their sources' pixels as plain PNGs: not worth a seed
      if (!/\.(png|jpe?g)$/i.test(f) || /\.ref[-.]/.test(f)) continue;
      if (statSync(p).size > MAX_SEED_IMAGE_BYTES) continue;
      out.push({ name: `${rel}/${f}`, bytes: new Uint8Array(readFileSync(p)) });
    }
  };
  addDir('demos/samples');
  addDir('test/fixtures/data');
  addDir('test/fixtures/images');

  // encodings of one colour sample (cifar10: 32×32 RGB) and one grey sample in every layout the encoders write
  const colour = decodePng(readFileSync(join(ROOT, 'demos', 'samples', 'cifar10-horse-7000.png')));
  const grey = decodePng(readFileSync(join(ROOT, 'demos', 'samples', 'fmnist-Bag-18.png')));
  const w = colour.width, h = colour.height, n = w * h, cc = colour.channels;
  const rgb = new Uint8Array(n * 3), rgba = new Uint8Array(n * 4), g8 = new Uint8Array(grey.width * grey.height);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) rgb[3 * i + c] = Number(colour.data[i * cc + Math.min(c, cc - 1)]);
    rgba.set([rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], (i * 7) & 255], 4 * i);
  }
  for (let i = 0; i < g8.length; i++) g8[i] = Number(grey.data[i * grey.channels]);
  const gw = grey.width, gh = grey.height;
  const png = (name: string, d: Parameters<typeof encodePng>[0], o?: Parameters<typeof encodePng>[1]) => out.push({ name: `gen:${name}`, bytes: encodePng(d, o) });
  png('rgb8.png', { width: w, height: h, data: rgb, channels: 3, depth: 8 });
  png('rgba8.png', { width: w, height: h, data: rgba, channels: 4, depth: 8 });
  png('rgb8-adam7.png', { width: w, height: h, data: rgb, channels: 3, depth: 8 }, { interlace: 'Adam7' });
  png('rgb16.png', { width: w, height: h, data: Uint16Array.from(rgb, (v) => v * 257), channels: 3, depth: 16 });
  png('grey16.png', { width: gw, height: gh, data: Uint16Array.from(g8, (v) => v * 257), channels: 1, depth: 16 });
  png('greyalpha8.png', { width: gw, height: gh, data: Uint8Array.from({ length: g8.length * 2 }, (_, i) => (i & 1 ? 200 : g8[i >> 1])), channels: 2, depth: 8 });
  for (const depth of [1, 2, 4] as const) {
    const per = 8 / depth, rowBytes = Math.ceil(gw / per), packed = new Uint8Array(rowBytes * gh);
    for (let y = 0; y < gh; y++) for (let x = 0; x < gw; x++) {
      const v = g8[y * gw + x] >> (8 - depth);
      packed[y * rowBytes + Math.floor(x / per)] |= v << (8 - depth * (1 + (x % per)));
    }
    png(`grey${depth}.png`, { width: gw, height: gh, data: packed, channels: 1, depth });
  }
  // palette: 16 grey levels of the grey sample, 4-bit indices, with a tRNS alpha per entry
  const palette = Array.from({ length: 16 }, (_, i) => [i * 17, i * 17, 255 - i * 17, 255 - i * 8]);
  const idx = new Uint8Array(Math.ceil(gw / 2) * gh);
  for (let y = 0; y < gh; y++) for (let x = 0; x < gw; x++) idx[y * Math.ceil(gw / 2) + (x >> 1)] |= (g8[y * gw + x] >> 4) << (x & 1 ? 0 : 4);
  png('palette4.png', { width: gw, height: gh, data: idx, channels: 1, depth: 4, palette });
  const greyRgba = new Uint8Array(gw * gh * 4);
  for (let i = 0; i < gw * gh; i++) greyRgba.set([g8[i], g8[i], g8[i], 255], 4 * i);
  out.push({ name: 'gen:colour-q90.jpg', bytes: new Uint8Array(jpeg.encode({ data: Uint8Array.from(rgba).map((v, i) => (i % 4 === 3 ? 255 : v)), width: w, height: h }, 90).data) });
  out.push({ name: 'gen:grey-q75.jpg', bytes: new Uint8Array(jpeg.encode({ data: greyRgba, width: gw, height: gh }, 75).data) });
  out.push({ name: 'gen:colour-96x80-q60.jpg', bytes: new Uint8Array(jpeg.encode({ data: upscale(rgba, w, h, 96, 80), width: 96, height: 80 }, 60).data) });
  imageSeeds = out;
  return out;
}

/** Nearest-neighbour upscale of RGBA (a larger seed: more MCUs and rows for the mutations to hit). */
function upscale(rgba: Uint8Array, w: number, h: number, ow: number, oh: number): Uint8Array {
  const out = new Uint8Array(ow * oh * 4);
  for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
    const s = (Math.floor((y * h) / oh) * w + Math.floor((x * w) / ow)) * 4;
    out.set([rgba[s], rgba[s + 1], rgba[s + 2], 255], (y * ow + x) * 4);
  }
  return out;
}
