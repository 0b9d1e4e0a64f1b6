// timm checkpoint (safetensors, timm key layout) → vitguard model (same tensor names, F32, with __metadata__).
// The config is inferred from tensor shapes; what shapes cannot tell (heads, eps, preprocessing, labels) comes from
// options, then from the input's own __metadata__, then from the architecture name's timm defaults.

import { VitguardError } from '../errors.js';
import { encodeMeta, validateConfig, validatePreprocessing, type ModelMeta, type Preprocessing, type ViTConfig } from '../format/model.js';
import { f32Tensor, readSafetensors, toFloat32, writeSafetensors, type Tensor } from '../format/safetensors.js';
import { configForArch, defaultPreprocessing, expectedTensors, familyOf, imagenetLabels, type Family } from './arch.js';

export interface ConvertOptions {
  arch?: string;
  heads?: number;
  eps?: number;
  mean?: number[];
  std?: number[];
  cropPct?: number;
  interpolation?: 'bicubic' | 'bilinear';
  labels?: string[];
}

export interface Converted {
  tensors: Map<string, Tensor>;
  meta: ModelMeta;
  bytes: Uint8Array;
}

function need(t: Map<string, Tensor>, name: string): Tensor {
  const x = t.get(name);
  if (!x) throw new VitguardError('E_TENSOR_MISSING', `checkpoint has no tensor "${name}" (is this a timm ViT / DeiT / DeiT3 checkpoint?)`);
  return x;
}

function jsonList(md: Record<string, string>, key: string): number[] | undefined {
  if (!(key in md)) return undefined;
  try {
    const v = JSON.parse(md[key]);
    return Array.isArray(v) ? v.map(Number) : undefined;
  } catch {
    return undefined;
  }
}

function num(md: Record<string, string>, ...keys: string[]): number | undefined {
  for (const k of keys) if (k in md && Number.isFinite(Number(md[k]))) return Number(md[k]);
  return undefined;
}

/** Infer the config from tensor shapes (and the options for what shapes cannot tell). */
export function inferConfig(t: Map<string, Tensor>, md: Record<string, string>, opts: ConvertOptions): { config: ViTConfig; arch: string; family: Family } {
  const pe = need(t, 'patch_embed.proj.weight').shape;
  if (pe.length !== 4 || pe[2] !== pe[3]) throw new VitguardError('E_TENSOR_SHAPE', `patch_embed.proj.weight has shape ${JSON.stringify(pe)}, expected [dim, in_chans, patch, patch]`);
  const [dim, inChans, patch] = pe;
  const distilled = t.has('dist_token');
  const layerScale = t.has('blocks.0.ls1.gamma');
  let depth = 0;
  while (t.has(`blocks.${depth}.attn.qkv.weight`)) depth++;
  if (depth === 0) need(t, 'blocks.0.attn.qkv.weight');
  const fc1 = need(t, 'blocks.0.mlp.fc1.weight').shape;
  const head = need(t, 'head.weight').shape;
  const pos = need(t, 'pos_embed').shape;
  if (pos.length !== 3 || pos[0] !== 1 || pos[2] !== dim) throw new VitguardError('E_TENSOR_SHAPE', `pos_embed has shape ${JSON.stringify(pos)}, expected [1, tokens, ${dim}]`);
  const extra = 1 + (distilled ? 1 : 0);
  const isSquare = (n: number) => n > 0 && Number.isInteger(Math.sqrt(n));
  const arch = opts.arch ?? md.arch;
  let family: Family = distilled ? 'deit' : layerScale ? 'deit3' : 'vit';
  if (arch) {
    family = familyOf(arch);
    if (distilled && family !== 'deit') throw new VitguardError('E_UNKNOWN_ARCH', `--arch ${arch} is not a DeiT but the checkpoint has a dist_token`);
  }
  // no_embed_class: pos_embed covers patches only. Shapes decide unless both readings are square grids.
  let noEmbedClass: boolean;
  if (isSquare(pos[1] - extra) && !isSquare(pos[1])) noEmbedClass = false;
  else if (isSquare(pos[1]) && !isSquare(pos[1] - extra)) noEmbedClass = true;
  else noEmbedClass = family === 'deit3';
  const grid = Math.sqrt(noEmbedClass ? pos[1] : pos[1] - extra);
  if (!Number.isInteger(grid)) throw new VitguardError('E_TENSOR_SHAPE', `pos_embed has ${pos[1]} rows, which is not a square patch grid (+${extra} token rows)`);
  let heads = opts.heads ?? num(md, 'heads', 'num_heads');
  if (heads === undefined && arch && /_(tiny|small|medium|base|large)_/.test(arch)) {
    try { heads = configForArch(arch).heads; } catch { /* custom name */ }
  }
  heads ??= Math.max(1, Math.round(dim / 64)); // timm's convention: 64-wide heads
  const config = validateConfig({
    imgSize: grid * patch,
    patch,
    inChans,
    dim,
    depth,
    heads,
    mlpHidden: fc1[0],
    numClasses: head[0],
    distilled,
    layerScale,
    noEmbedClass,
    eps: opts.eps ?? num(md, 'eps', 'layer_norm_eps') ?? 1e-6,
  });
  return { config, arch: arch ?? `${family}_custom_patch${patch}_${grid * patch}`, family };
}

export function convertCheckpoint(input: Uint8Array, opts: ConvertOptions = {}): Converted {
  const { tensors: src, metadata: md } = readSafetensors(input);
  const { config, arch } = inferConfig(src, md, opts);
  // Every tensor must be expected, present, with the right shape; floats become F32.
  const expected = expectedTensors(config);
  const names = new Set(expected.map(([n]) => n));
  const unknown = [...src.keys()].filter((k) => !names.has(k));
  if (unknown.length) {
    throw new VitguardError('E_TENSOR_UNKNOWN', `checkpoint has tensors this ${config.distilled ? 'distilled ' : ''}ViT does not use: ${unknown.slice(0, 12).join(', ')}${unknown.length > 12 ? ` (+${unknown.length - 12} more)` : ''}`);
  }
  const missing = expected.filter(([n]) => !src.has(n)).map(([n]) => n);
  if (missing.length) throw new VitguardError('E_TENSOR_MISSING', `checkpoint lacks tensors: ${missing.slice(0, 12).join(', ')}${missing.length > 12 ? ` (+${missing.length - 12} more)` : ''}`);
  const tensors = new Map<string, Tensor>();
  for (const [name, shape] of expected) {
    const t = src.get(name)!;
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new VitguardError('E_TENSOR_SHAPE', `tensor ${name} has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(shape)}`);
    }
    const data = Float32Array.from(toFloat32(t));
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new VitguardError('E_NONFINITE', `tensor ${name} holds ${data[i]} at index ${i}`);
    }
    tensors.set(name, f32Tensor(shape, data));
  }
  const defaults = defaultPreprocessing(arch);
  const perChannel = (v: number[] | undefined) => (v && v.length === 1 ? Array(config.inChans).fill(v[0]) : v);
  const mean = perChannel(opts.mean) ?? perChannel(jsonList(md, 'mean')) ?? (config.inChans === 3 ? defaults.mean : undefined);
  const std = perChannel(opts.std) ?? perChannel(jsonList(md, 'std')) ?? (config.inChans === 3 ? defaults.std : undefined);
  if (!mean || !std) {
    throw new VitguardError('E_METADATA', `the model takes ${config.inChans}-channel input, so timm's RGB defaults do not apply: pass --mean and --std`);
  }
  const preprocessing = validatePreprocessing({
    mean,
    std,
    cropPct: opts.cropPct ?? num(md, 'crop_pct') ?? defaults.cropPct,
    interpolation: opts.interpolation ?? ((md.interpolation as Preprocessing['interpolation']) || defaults.interpolation),
  }, config.inChans);
  let labels = opts.labels;
  if (!labels && md.labels) {
    try { labels = JSON.parse(md.labels); } catch { throw new VitguardError('E_METADATA', 'input __metadata__.labels is not JSON'); }
  }
  labels ??= imagenetLabels(config.numClasses);
  if (!Array.isArray(labels) || labels.length !== config.numClasses) {
    throw new VitguardError('E_METADATA', `labels: got ${Array.isArray(labels) ? labels.length : 'no'} labels for a head of ${config.numClasses} classes`);
  }
  const meta: ModelMeta = { arch, config, labels: labels.map(String), preprocessing, scheme: { name: 'fp32' }, extra: {} };
  return { tensors, meta, bytes: writeSafetensors(tensors, encodeMeta(meta)) };
}

/** Labels from a file: a JSON array, or one label per line. */
export function parseLabels(text: string): string[] {
  const s = text.trim();
  if (s.startsWith('[')) {
    const v = JSON.parse(s);
    if (!Array.isArray(v)) throw new VitguardError('E_USAGE', 'labels file: expected a JSON array');
    return v.map(String);
  }
  return s.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
}
