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
