// The vitguard model file: a safetensors file whose tensors keep timm's names and whose __metadata__ says
// everything needed to run it. Metadata values are strings (the format's rule); structured ones are JSON.
//
//   __metadata__ = {
//     "format": "vitguard/1",
//     "arch": "deit_tiny_patch16_224",          // family is derived from the config, the name is informative
//     "config": "{...ViTConfig...}",
//     "labels": "[\"T-shirt/top\", ...]",
//     "preprocessing": "{\"mean\":[..],\"std\":[..],\"cropPct\":0.9,\"interpolation\":\"bicubic\"}",
//     "scheme": "{\"name\":\"fp32\", ...}"      // the quantization issue extends this
//   }

import { VitguardError } from '../errors.js';
import { readSafetensors, type SafetensorsFile } from './safetensors.js';

export const FORMAT_TAG = 'vitguard/1';

export interface ViTConfig {
  imgSize: number; // square input side, pixels
  patch: number; // patch side, pixels
  inChans: number;
  dim: number; // embedding width D
  depth: number; // number of blocks
  heads: number;
  mlpHidden: number; // fc1 output width (= dim · mlp ratio)
  numClasses: number;
  distilled: boolean; // DeiT distillation token + head_dist
  layerScale: boolean; // DeiT3 ls1/ls2 gamma
  noEmbedClass: boolean; // pos_embed covers patch tokens only (DeiT3)
  eps: number; // layernorm epsilon
  // Optional (absent in files written before them; absent = the default, and writers leave defaults out):
  regTokens?: number; // timm reg_token [1, R, D]: R register tokens after the class token (default 0)
  classToken?: boolean; // timm class_token (default true); without one the head must pool ('avg')
  globalPool?: 'token' | 'avg'; // the head reads the class token's row, or the mean of the patch tokens (default 'token')
  fcNorm?: boolean; // the final LayerNorm is `fc_norm`, applied after pooling; `norm` is then absent (default false)
}

export type Interpolation = 'bicubic' | 'bilinear';

export interface Preprocessing {
  mean: number[];
  std: number[];
  cropPct: number;
  interpolation: Interpolation;
}

export interface SchemeInfo {
  name: string; // 'fp32' | 'w8a8' | ...
  [k: string]: unknown;
}

/**
 * The plan of an outlier-aware model (scheme w4a8-oa / w4a4-oa), kept in the scheme's metadata next to its base
 * scheme's fields (layers, group, ...): which inputs run at higher precision, chosen from ID calibration images by
 * `vitguard quantize --scheme w4a4-oa --calib SPEC` (sdk/quant/outlier.ts). Files written before `madeFor`,
 * `calib` and `layerRatios` existed have none of them: every field after `ratio` is optional.
 */
export interface OutlierPlan {
  /** The base scheme whose tensors the file holds ('w4a8' for w4a8-oa, 'w4a4' for w4a4-oa). */
  base: string;
  /** Block layers (timm prefixes, e.g. 'blocks.3.mlp.fc2') whose whole input runs with 8-bit activations. */
  a8Layers: string[];
  /** In the other 4-bit block layers, the leading token rows of every image (class, distillation, registers) at 8 bits. */
  a8Tokens: number;
  /** Input channels per block layer kept in f32 (`<layer>.outlier.idx` / `.outlier.weight`), 0 = none. */
  outlierChannels: number;
  /** A layer whose input's per-channel max |x| has max/median above this runs at 8 bits. */
  ratio: number;
  /** The model the plan was chosen for; checked against the config when the file is read. */
  madeFor?: { depth: number; tokens: number; dim: number; mlpHidden: number };
  /** Where it was chosen: the calibration spec and the number of images probed. */
  calib?: { spec: string; images: number };
  /** Each block layer's channel max/median ratio on the calibration images (what `ratio` was compared with). */
  layerRatios?: Record<string, number>;
}

export const OUTLIER_AWARE_SCHEMES = ['w4a8-oa', 'w4a4-oa'] as const;

const BLOCK_LAYER = /^blocks\.(\d+)\.(attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)$/;

function plan(message: string): never {
  throw new VitguardError('E_PLAN', message);
}

/**
 * Check an outlier-aware scheme's plan against the model's config: E_PLAN when the plan names layers the model does
 * not have, asks for more 8-bit token rows than an image has tokens, or was made for another shape (depth, tokens,
 * dim, MLP width); E_METADATA when a field has the wrong type. Schemes that are not outlier-aware pass untouched.
 */
export function validateOutlierPlan(scheme: SchemeInfo, c: ViTConfig): SchemeInfo {
  if (!(OUTLIER_AWARE_SCHEMES as readonly string[]).includes(scheme.name)) return scheme;
  const p = scheme as unknown as Partial<OutlierPlan>;
  const what = `scheme ${scheme.name}`;
  const base = scheme.name.slice(0, -3);
  if (p.base !== base) meta(`${what} needs base "${base}" in the model metadata, got ${JSON.stringify(p.base)}`);
  if (!Array.isArray(p.a8Layers) || !p.a8Layers.every((l) => typeof l === 'string')) meta(`${what}: a8Layers must be a list of layer names, got ${JSON.stringify(p.a8Layers)}`);
  for (const k of ['a8Tokens', 'outlierChannels'] as const) {
    const v = p[k] ?? 0;
    if (!(Number.isInteger(v) && v >= 0)) meta(`${what}: ${k} must be an integer ≥ 0, got ${JSON.stringify(p[k])}`);
  }
  if (p.ratio !== undefined && !(typeof p.ratio === 'number' && p.ratio > 0)) meta(`${what}: ratio must be a positive number, got ${JSON.stringify(p.ratio)}`);
  const seen = new Set<string>();
  for (const l of p.a8Layers) {
    const m = BLOCK_LAYER.exec(l);
    if (!m || Number(m[1]) >= c.depth) plan(`${what}: the plan runs layer "${l}" at 8 bits, but this ${c.depth}-block model has no such block layer (blocks.0..${c.depth - 1}.{attn.qkv,attn.proj,mlp.fc1,mlp.fc2}): the plan was made for another model; quantize this model again with --calib`);
    if (seen.has(l)) plan(`${what}: the plan lists layer "${l}" twice`);
    seen.add(l);
  }
  const tokens = numTokens(c);
  if ((p.a8Tokens ?? 0) > tokens) plan(`${what}: the plan quantizes the first ${p.a8Tokens} token rows at 8 bits, but this model's images have ${tokens} tokens: the plan was made for another model`);
  if ((p.a8Tokens ?? 0) > 0 && base !== 'w4a4') plan(`${what}: 8-bit token rows (a8Tokens) apply to w4a4-oa only`);
  if (p.madeFor !== undefined) {
    const f = p.madeFor as unknown as Record<string, unknown>;
    if (typeof f !== 'object' || f === null) meta(`${what}: madeFor must be an object {depth, tokens, dim, mlpHidden}`);
    const have = { depth: c.depth, tokens, dim: c.dim, mlpHidden: c.mlpHidden };
    const off = (Object.keys(have) as Array<keyof typeof have>).filter((k) => f[k] !== have[k]);
    if (off.length) {
      plan(`${what}: the plan was made for a model with ${off.map((k) => `${k} ${JSON.stringify(f[k])}`).join(', ')}; this one has ${off.map((k) => `${k} ${have[k]}`).join(', ')}: quantize this model again with --calib`);
    }
  }
  if (p.calib !== undefined && !(typeof p.calib === 'object' && p.calib !== null && typeof p.calib.spec === 'string' && Number.isInteger(p.calib.images))) {
    meta(`${what}: calib must be {spec, images}, got ${JSON.stringify(p.calib)}`);
  }
  return scheme;
}

export interface ModelMeta {
  arch: string;
  config: ViTConfig;
  labels: string[];
  preprocessing: Preprocessing;
  scheme: SchemeInfo;
  /** Other metadata keys, kept verbatim (e.g. a fitted OOD detector). */
  extra: Record<string, string>;
}

export function numPatches(c: ViTConfig): number {
  const g = Math.floor(c.imgSize / c.patch);
  return g * g;
}

/** The optional config fields with their defaults filled in. */
export function tokenLayout(c: ViTConfig): { classToken: boolean; regTokens: number; globalPool: 'token' | 'avg'; fcNorm: boolean } {
  return { classToken: c.classToken ?? true, regTokens: c.regTokens ?? 0, globalPool: c.globalPool ?? 'token', fcNorm: c.fcNorm ?? false };
}

/** Tokens before the patches, in timm's order: class, distillation, registers. */
export function numPrefixTokens(c: ViTConfig): number {
  const t = tokenLayout(c);
  return (t.classToken ? 1 : 0) + (c.distilled ? 1 : 0) + t.regTokens;
}

/** Tokens in the sequence: class (+ distillation) (+ registers) + patches. */
export function numTokens(c: ViTConfig): number {
  return numPatches(c) + numPrefixTokens(c);
}

function meta(message: string): never {
  throw new VitguardError('E_METADATA', message);
}

function parseJson<T>(md: Record<string, string>, key: string): T {
  if (!(key in md)) meta(`model metadata has no "${key}" (is this a vitguard model? run \`vitguard convert\` on a timm checkpoint first)`);
  try {
    return JSON.parse(md[key]) as T;
  } catch {
    return meta(`model metadata "${key}" is not valid JSON`);
  }
}

const INT_KEYS = ['imgSize', 'patch', 'inChans', 'dim', 'depth', 'heads', 'mlpHidden', 'numClasses'] as const;

export function validateConfig(c: ViTConfig): ViTConfig {
  for (const k of INT_KEYS) {
    const v = c[k];
    if (!Number.isInteger(v) || v <= 0 || v > 1 << 20) meta(`config.${k} = ${JSON.stringify(v)} is not a positive integer`);
  }
  if (c.dim % c.heads !== 0) meta(`config.dim ${c.dim} is not divisible by config.heads ${c.heads}`);
  if (c.imgSize % c.patch !== 0) meta(`config.imgSize ${c.imgSize} is not a multiple of config.patch ${c.patch}`);
  for (const k of ['distilled', 'layerScale', 'noEmbedClass'] as const) {
    if (typeof c[k] !== 'boolean') meta(`config.${k} must be true or false`);
  }
  if (!(typeof c.eps === 'number' && c.eps > 0 && c.eps < 1)) meta(`config.eps = ${c.eps} is not a small positive number`);
  if (c.regTokens !== undefined && !(Number.isInteger(c.regTokens) && c.regTokens >= 0 && c.regTokens <= 1024)) meta(`config.regTokens = ${JSON.stringify(c.regTokens)} is not an integer in 0..1024`);
  for (const k of ['classToken', 'fcNorm'] as const) {
    if (c[k] !== undefined && typeof c[k] !== 'boolean') meta(`config.${k} must be true or false`);
  }
  if (c.globalPool !== undefined && c.globalPool !== 'token' && c.globalPool !== 'avg') meta(`config.globalPool must be "token" or "avg", got ${JSON.stringify(c.globalPool)}`);
  const t = tokenLayout(c);
  if (t.globalPool === 'token' && !t.classToken) meta('config.globalPool "token" needs a class token (config.classToken is false)');
  if (c.distilled && (!t.classToken || t.globalPool !== 'token' || t.regTokens > 0)) meta('a distilled (DeiT) config has a class token, pools by token and has no registers');
  return c;
}

export function validatePreprocessing(p: Preprocessing, inChans: number): Preprocessing {
  if (!Array.isArray(p.mean) || p.mean.length !== inChans || !p.mean.every(Number.isFinite)) meta(`preprocessing.mean must have ${inChans} finite numbers`);
  if (!Array.isArray(p.std) || p.std.length !== inChans || !p.std.every((s) => Number.isFinite(s) && s > 0)) meta(`preprocessing.std must have ${inChans} positive numbers`);
  if (!(p.cropPct > 0 && p.cropPct <= 1)) meta(`preprocessing.cropPct = ${p.cropPct} must be in (0, 1]`);
  if (p.interpolation !== 'bicubic' && p.interpolation !== 'bilinear') meta(`preprocessing.interpolation must be bicubic or bilinear, got ${p.interpolation}`);
  return p;
}

/** A metadata value that must be a JSON object ({…}): null, arrays and numbers are refused here, not met later. */
function parseObject<T>(md: Record<string, string>, key: string): T {
  const v = parseJson<unknown>(md, key);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) meta(`model metadata "${key}" must be a JSON object, got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`);
  return v as T;
}

export function decodeMeta(md: Record<string, string>): ModelMeta {
  if (md.format !== FORMAT_TAG) meta(`model metadata format is ${JSON.stringify(md.format)}, expected "${FORMAT_TAG}" (convert timm checkpoints with \`vitguard convert\`)`);
  const config = validateConfig(parseObject<ViTConfig>(md, 'config'));
  const labels = parseJson<string[]>(md, 'labels');
  if (!Array.isArray(labels) || labels.length !== config.numClasses || !labels.every((l) => typeof l === 'string')) {
    meta(`model metadata labels must be ${config.numClasses} strings`);
  }
  const preprocessing = validatePreprocessing(parseObject<Preprocessing>(md, 'preprocessing'), config.inChans);
  const scheme = md.scheme ? parseObject<SchemeInfo>(md, 'scheme') : { name: 'fp32' };
  if (typeof scheme.name !== 'string') meta(`model metadata scheme.name must be a string, got ${JSON.stringify(scheme.name)}`);
  validateOutlierPlan(scheme, config);
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(md)) {
    if (!['format', 'arch', 'config', 'labels', 'preprocessing', 'scheme'].includes(k)) extra[k] = v;
  }
  return { arch: md.arch ?? 'custom', config, labels, preprocessing, scheme, extra };
}

export function encodeMeta(m: ModelMeta): Record<string, string> {
  return {
    ...m.extra,
    format: FORMAT_TAG,
    arch: m.arch,
    config: JSON.stringify(m.config),
    labels: JSON.stringify(m.labels),
    preprocessing: JSON.stringify(m.preprocessing),
    scheme: JSON.stringify(m.scheme),
  };
}

export interface ModelFile extends SafetensorsFile {
  meta: ModelMeta;
}

export function readModel(bytes: Uint8Array | ArrayBuffer): ModelFile {
  const st = readSafetensors(bytes);
  return { ...st, meta: decodeMeta(st.metadata) };
}
