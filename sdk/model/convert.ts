// timm checkpoint (safetensors, timm key layout) → vitguard model (same tensor names, F32, with __metadata__).
//
// No silent guesses. Every config value comes from one named source, listed in Converted.values:
//   shape     the tensors' shapes (dim, depth, patch, classes, distillation, layer scale, ...)
//   flag      an option (--heads, --eps, --mean, ...): always wins
//   metadata  the input file's own __metadata__ (as tools/train writes it: num_heads, eps, mean, std, ...)
//   config.json / preprocessor_config.json   a model folder's side files (timm hub or transformers: layouts.ts)
//   arch name a timm architecture name timm itself knows (--arch, config.json or metadata.arch): heads, eps, preprocessing
//   default   only where no number depends on it (labels class_0..class_N-1)
// Precedence: flag, then the folder's JSON files, then the file's metadata, then the arch name.
// Anything a number depends on that none of these tells (the head count above all: nothing in a checkpoint's shapes
// says it) stops the conversion with E_CONFIG_MISSING naming the flag to pass, all missing values at once.

import { VitguardError } from '../errors.js';
import { encodeMeta, validateConfig, validatePreprocessing, type Interpolation, type ModelMeta, type Preprocessing, type ViTConfig } from '../format/model.js';
import { f32Tensor, readSafetensors, toFloat32, writeSafetensors, type Tensor } from '../format/safetensors.js';
import { configForArch, defaultPreprocessing, expectedTensors, familyOf, imagenetLabels, type Family } from './arch.js';
import { isTransformersConfig, parseJsonFile, readPreprocessorConfig, readTimmHubConfig, readTransformersConfig, transformersPrefix, transformersToTimm, type FolderFacts, type Layout } from './layouts.js';

export interface ConvertOptions {
  arch?: string;
  heads?: number;
  eps?: number;
  /** Input side in pixels: only needed where pos_embed's row count fits two patch grids. */
  imgSize?: number;
  /** The head's pooling: 'token' (class token) or 'avg' (mean of the patch tokens); needed where shapes cannot tell. */
  globalPool?: 'token' | 'avg';
  mean?: number[];
  std?: number[];
  cropPct?: number;
  interpolation?: Interpolation;
  labels?: string[];
}

/** Where a config value came from. */
export type ValueSource = 'shape' | 'flag' | 'metadata' | 'config.json' | 'preprocessor_config.json' | 'arch name' | 'default';

/** A model folder's side files, as text (the CLI reads them; sdk/model does no file I/O). */
export interface FolderFiles {
  /** config.json: timm hub (`architecture`, `pretrained_cfg`) or transformers (`architectures`, `model_type`). */
  config?: string;
  /** preprocessor_config.json (transformers). */
  preprocessor?: string;
}

export interface ConfigValue {
  /** `config.heads`, `preprocessing.mean`, `labels`, `arch`, ... */
  key: string;
  value: unknown;
  source: ValueSource;
}

export interface Converted {
  tensors: Map<string, Tensor>;
  meta: ModelMeta;
  bytes: Uint8Array;
  /** Every config, preprocessing and label value with its source, in a stable order. */
  values: ConfigValue[];
  /** Which tensor names the input had: timm (a file, or a timm hub folder) or transformers (renamed to timm's). */
  layout: Layout;
  /** Things worth knowing that change no number on square images (e.g. transformers' squash resize). */
  notes: string[];
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
  for (const k of keys) if (k in md && md[k] !== '' && Number.isFinite(Number(md[k]))) return Number(md[k]);
  return undefined;
}

/** The timm zoo config of an architecture name, or undefined for a name timm does not know (e.g. vit_fmnist_patch4_28). */
export function knownArchConfig(arch: string | undefined): ViTConfig | undefined {
  if (!arch) return undefined;
  try {
    return configForArch(arch);
  } catch {
    return undefined;
  }
}

// --- resolving values from their sources --------------------------------------------------------------------------

type Candidate<T> = [ValueSource, T | undefined];

/** Collects each value's source, and every value no source could tell, to report all at once. */
class Resolver {
  readonly values: ConfigValue[] = [];
  readonly missing: Array<{ key: string; flag: string; why: string }> = [];

  /** First candidate that is defined wins; none → recorded as missing (flag named), returns undefined. */
  pick<T>(key: string, flag: string, why: string, candidates: Array<Candidate<T>>): T | undefined {
    for (const [source, value] of candidates) {
      if (value !== undefined) {
        this.values.push({ key, value, source });
        return value;
      }
    }
    this.missing.push({ key, flag, why });
    return undefined;
  }

  shape<T>(key: string, value: T): T {
    this.values.push({ key, value, source: 'shape' });
    return value;
  }

  throwIfMissing(): void {
    if (!this.missing.length) return;
    const list = this.missing.map((m) => `${m.key} (pass ${m.flag}; ${m.why})`).join('; ');
    throw new VitguardError('E_CONFIG_MISSING', `convert cannot tell ${list}. Nothing is guessed: give the value${this.missing.length > 1 ? 's' : ''} with the flag${this.missing.length > 1 ? 's' : ''} named, or a timm architecture name with --arch.`);
  }
}

// --- the config ---------------------------------------------------------------------------------------------------

interface Inferred {
  config: ViTConfig;
  arch: string;
  family: Family;
  /** A timm name timm knows (given, not derived), for preprocessing defaults. */
  knownArch?: string;
}

/** A folder file's structural fact must agree with the tensors. */
function agree(what: string, said: number | boolean | undefined, shape: number | boolean): void {
  if (said !== undefined && said !== shape) {
    throw new VitguardError('E_METADATA', `config.json says ${what} ${said} but the tensors have ${shape}: the files do not belong together`);
  }
}

/**
 * Infer the config: structure from tensor shapes, the rest (heads, eps) from options, the folder's files, the input's
 * metadata or a timm architecture name. Values go to `r`; values nothing tells go to r.missing (the caller throws
 * once all are known).
 */
function inferConfig(t: Map<string, Tensor>, md: Record<string, string>, facts: FolderFacts, opts: ConvertOptions, r: Resolver): Inferred {
  const pe = need(t, 'patch_embed.proj.weight').shape;
  if (pe.length !== 4 || pe[2] !== pe[3]) throw new VitguardError('E_TENSOR_SHAPE', `patch_embed.proj.weight has shape ${JSON.stringify(pe)}, expected [dim, in_chans, patch, patch]`);
  const [dim, inChans, patch] = pe;
  const distilled = t.has('dist_token');
  const classToken = t.has('cls_token');
  const fcNorm = t.has('fc_norm.weight');
  const reg = t.get('reg_token')?.shape;
  if (reg && (reg.length !== 3 || reg[0] !== 1 || reg[1] < 1)) throw new VitguardError('E_TENSOR_SHAPE', `reg_token has shape ${JSON.stringify(reg)}, expected [1, registers, dim]`);
  const regTokens = reg ? reg[1] : 0;
  const layerScale = t.has('blocks.0.ls1.gamma');
  let depth = 0;
  while (t.has(`blocks.${depth}.attn.qkv.weight`)) depth++;
  if (depth === 0) need(t, 'blocks.0.attn.qkv.weight');
  const fc1 = need(t, 'blocks.0.mlp.fc1.weight').shape;
  const head = need(t, 'head.weight').shape;
  const pos = need(t, 'pos_embed').shape;
  if (pos.length !== 3 || pos[0] !== 1 || pos[2] !== dim) throw new VitguardError('E_TENSOR_SHAPE', `pos_embed has shape ${JSON.stringify(pos)}, expected [1, tokens, ${dim}]`);
  agree('hidden_size / embed_dim', facts.dim, dim);
  agree('num_hidden_layers / depth', facts.depth, depth);
  agree('intermediate_size', facts.mlpHidden, fc1[0]);
  agree('patch_size', facts.patch, patch);
  agree('num_channels / input_size[0]', facts.inChans, inChans);
  agree('num_classes / id2label', facts.numClasses, head[0]);

  const [arch, archSource] = opts.arch ? [opts.arch, 'flag' as const] : facts.arch ? [facts.arch, 'config.json' as const] : md.arch ? [md.arch, 'metadata' as const] : [undefined, undefined];
  let family: Family = distilled ? 'deit' : layerScale && classToken && !regTokens ? 'deit3' : 'vit';
  if (arch) {
    family = familyOf(arch);
    if (distilled && family !== 'deit') throw new VitguardError('E_UNKNOWN_ARCH', `${archSource} arch ${arch} is not a DeiT but the checkpoint has a dist_token`);
  } else if (facts.hfClass) {
    family = facts.hfClass.startsWith('DeiT') ? 'deit' : 'vit';
  }
  const known = knownArchConfig(arch);

  // no_embed_class: pos_embed covers the patches only. The row count decides unless both readings are square grids;
  // then the image side does (flag, config file, metadata img_size, arch name).
  const extra = (classToken ? 1 : 0) + (distilled ? 1 : 0) + regTokens;
  agree('model_args.reg_tokens', facts.regTokens, regTokens);
  agree('model_args.class_token', facts.classToken, classToken);
  agree('model_args.fc_norm', facts.fcNorm, fcNorm);
  const isSquare = (n: number) => n > 0 && Number.isInteger(Math.sqrt(n));
  const sideSaid: Array<Candidate<number>> = [['flag', opts.imgSize], ['config.json', facts.imgSize], ['metadata', num(md, 'img_size')], ['arch name', known?.imgSize]];
  let noEmbedClass: boolean | undefined;
  let imgSize: number | undefined;
  if (!isSquare(pos[1]) && !isSquare(pos[1] - extra)) {
    throw new VitguardError('E_TENSOR_SHAPE', `pos_embed has ${pos[1]} rows, which is not a square patch grid (with or without ${extra} prefix row${extra > 1 ? 's' : ''})`);
  } else if (isSquare(pos[1]) !== isSquare(pos[1] - extra)) {
    noEmbedClass = r.shape('config.noEmbedClass', isSquare(pos[1]));
    imgSize = r.shape('config.imgSize', Math.sqrt(noEmbedClass ? pos[1] : pos[1] - extra) * patch);
    const said = sideSaid.find(([src, v]) => v !== undefined && src !== 'arch name'); // a zoo name may be run at another size
    if (said && said[1] !== imgSize) throw new VitguardError('E_METADATA', `${said[0]} says image side ${said[1]} but pos_embed's ${pos[1]} rows give ${imgSize} px at patch ${patch}`);
  } else if (facts.noEmbedClass !== undefined && opts.imgSize === undefined) {
    noEmbedClass = facts.noEmbedClass; // timm hub model_args.no_embed_class
    r.values.push({ key: 'config.noEmbedClass', value: noEmbedClass, source: 'config.json' });
    imgSize = Math.sqrt(noEmbedClass ? pos[1] : pos[1] - extra) * patch;
    r.values.push({ key: 'config.imgSize', value: imgSize, source: 'config.json' });
  } else {
    imgSize = r.pick('config.imgSize', '--img-size', `pos_embed's ${pos[1]} rows fit a ${Math.sqrt(pos[1])}² grid and a ${Math.sqrt(pos[1] - extra)}² grid plus ${extra} prefix row(s)`, sideSaid);
    if (imgSize !== undefined) {
      const n = (imgSize / patch) ** 2;
      if (n !== pos[1] && n !== pos[1] - extra) throw new VitguardError('E_TENSOR_SHAPE', `image side ${imgSize} with patch ${patch} gives ${n} patches; pos_embed has ${pos[1]} rows`);
      noEmbedClass = n === pos[1];
      r.values.push({ key: 'config.noEmbedClass', value: noEmbedClass, source: r.values[r.values.length - 1].source });
    }
  }
  r.shape('config.patch', patch);
  r.shape('config.inChans', inChans);
  r.shape('config.dim', dim);
  r.shape('config.depth', depth);
  r.shape('config.mlpHidden', fc1[0]);
  r.shape('config.numClasses', head[0]);
  r.shape('config.distilled', distilled);
  r.shape('config.layerScale', layerScale);
  r.shape('config.classToken', classToken);
  r.shape('config.regTokens', regTokens);
  r.shape('config.fcNorm', fcNorm);
  // global_pool: timm couples fc_norm to the averaging pools (fc_norm=None → used iff global_pool is avg/max/avgmax),
  // so a class token without fc_norm is the token head of every timm class-token ViT. fc_norm, or no class token,
  // leaves avg / max / avgmax (or an explicit token + fc_norm): a file, flag or name must say which.
  const poolSaid = (v: string | undefined, where: string): 'token' | 'avg' | undefined => {
    if (v === undefined) return undefined;
    if (v !== 'token' && v !== 'avg') throw new VitguardError('E_UNKNOWN_ARCH', `${where} global_pool ${JSON.stringify(v)}: vitguard runs 'token' (class token) and 'avg' (mean of the patch tokens) heads`);
    return v;
  };
  let globalPool: 'token' | 'avg' | undefined;
  const poolFlag = poolSaid(opts.globalPool, '--global-pool');
  if (classToken && !fcNorm && poolFlag === undefined && facts.globalPool === undefined && md.global_pool === undefined) {
    globalPool = r.shape('config.globalPool', 'token');
  } else {
    globalPool = r.pick('config.globalPool', '--global-pool', `${classToken ? 'a class token with fc_norm' : 'no class token'}: the head may average or max-pool the patch tokens`, [
      ['flag', poolFlag], ['config.json', poolFlag ? undefined : poolSaid(facts.globalPool, 'config.json')],
      ['metadata', poolFlag ? undefined : poolSaid(md.global_pool, 'metadata')], ['arch name', known ? known.globalPool ?? 'token' : undefined],
    ]);
  }

  const heads = r.pick('config.heads', '--heads', 'no tensor shape tells the head count', [
    ['flag', opts.heads], ['config.json', facts.heads], ['metadata', num(md, 'num_heads', 'heads')], ['arch name', known?.heads],
  ]);
  const eps = r.pick('config.eps', '--eps', 'no tensor shape tells the LayerNorm epsilon', [
    ['flag', opts.eps], ['config.json', facts.eps], ['metadata', num(md, 'eps', 'layer_norm_eps')], ['arch name', known?.eps ?? facts.timmEps],
  ]);
  const name = arch ?? `${family}_custom_patch${patch}_${imgSize ?? 0}`;
  r.values.unshift({ key: 'arch', value: name, source: archSource ?? 'shape' });
  const config: ViTConfig = {
    imgSize: imgSize ?? 0, patch, inChans, dim, depth, heads: heads ?? 0, mlpHidden: fc1[0], numClasses: head[0],
    distilled, layerScale, noEmbedClass: noEmbedClass ?? false, eps: eps ?? 0,
  };
  // the optional fields only where they differ from their defaults, so plain models' metadata stays as it was
  if (regTokens) config.regTokens = regTokens;
  if (!classToken) config.classToken = false;
  if (globalPool === 'avg') config.globalPool = 'avg';
  if (fcNorm) config.fcNorm = true;
  return { config, arch: name, family, knownArch: known ? arch : undefined };
}

function checkTensors(src: Map<string, Tensor>, config: ViTConfig): Map<string, Tensor> {
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
  return tensors;
}

function parseInterpolation(v: string | undefined, where: string): Interpolation | undefined {
  if (v === undefined || v === '') return undefined;
  if (v !== 'bicubic' && v !== 'bilinear') throw new VitguardError('E_METADATA', `${where} interpolation is ${JSON.stringify(v)}: vitguard resizes bicubic or bilinear (pass --interpolation)`);
  return v;
}

/** timm's qkv_bias=False models (e.g. vit_medium_patch16_gap_256) have no qkv bias tensors: a bias of zeros is the same. */
function withZeroQkvBias(src: Map<string, Tensor>, facts: FolderFacts): Map<string, Tensor> {
  const blocks = [...src.keys()].filter((k) => /^blocks\.\d+\.attn\.qkv\.weight$/.test(k));
  if (!blocks.length || blocks.some((w) => src.has(w.replace(/weight$/, 'bias')))) return src;
  const out = new Map(src);
  for (const w of blocks) out.set(w.replace(/weight$/, 'bias'), f32Tensor([src.get(w)!.shape[0]], new Float32Array(src.get(w)!.shape[0])));
  facts.notes.push('the qkv layers have no bias (timm qkv_bias=False): zeros are stored');
  return out;
}

/** Read the folder's JSON files (if any) and bring the tensors to timm's names. */
function readLayout(src: Map<string, Tensor>, files: FolderFiles): { tensors: Map<string, Tensor>; facts: FolderFacts } {
  const cfg = files.config !== undefined ? parseJsonFile(files.config, 'config.json') : undefined;
  let facts: FolderFacts;
  if (cfg && typeof cfg.architecture === 'string') facts = readTimmHubConfig(cfg);
  else if (cfg && isTransformersConfig(cfg)) facts = readTransformersConfig(cfg);
  else if (cfg) throw new VitguardError('E_METADATA', 'config.json is neither a timm hub config (no "architecture") nor a transformers ViT / DeiT config (no "architectures" or model_type vit / deit)');
  else facts = { layout: transformersPrefix(src.keys()) ? 'transformers' : 'timm', problems: {}, notes: [] };
  if (files.preprocessor !== undefined) readPreprocessorConfig(parseJsonFile(files.preprocessor, 'preprocessor_config.json'), facts);
  if (facts.layout !== 'transformers') return { tensors: withZeroQkvBias(src, facts), facts };
  const prefix = transformersPrefix(src.keys());
  if (!prefix) throw new VitguardError('E_TENSOR_MISSING', 'config.json describes a transformers ViT / DeiT but the weights have no vit.embeddings.* or deit.embeddings.* tensors');
  // DeiTForImageClassification reads the class token only: its distillation token is then one more prefix token with
  // a position embedding and no head of its own, which is exactly a register (pos_embed rows: cls, it, patches)
  const classOnly = facts.hfClass === 'DeiTForImageClassification' || (!facts.hfClass && src.has('classifier.weight') && src.has(`${prefix}embeddings.distillation_token`));
  if (classOnly) facts.notes.push('DeiT without its distillation head: the distillation token runs as a register token (attended to, not read by the head)');
  return { tensors: transformersToTimm(src, prefix, classOnly ? 'reg_token' : 'dist_token'), facts };
}

/**
 * Convert a checkpoint: a timm-named safetensors file, or the weights of a model folder with its JSON files
 * (timm hub or transformers layout). Flags override every file.
 */
export function convertCheckpoint(input: Uint8Array, opts: ConvertOptions = {}, files: FolderFiles = {}): Converted {
  const { tensors: raw, metadata: md } = readSafetensors(input);
  const { tensors: src, facts } = readLayout(raw, files);
  const r = new Resolver();
  const { config: partial, arch, knownArch } = inferConfig(src, md, facts, opts, r);
  // A broken checkpoint is reported before missing flags: the tensor checks need only the structure (unknown only
  // where the image side is missing, which then is reported below).
  const structureKnown = !r.missing.some((m) => m.key === 'config.imgSize');
  const tensors = structureKnown ? checkTensors(src, { ...partial, heads: partial.heads || 1, eps: partial.eps || 1e-6 }) : new Map<string, Tensor>();

  const C = partial.inChans;
  const defaults = knownArch ? defaultPreprocessing(knownArch) : undefined;
  const rgb = C === 3 ? defaults : undefined; // timm's defaults are RGB statistics
  const perChannel = (v: number[] | undefined) => (v && v.length === 1 ? Array(C).fill(v[0]) : v);
  const fileSource = facts.preprocessingFile ?? 'config.json';
  /** A folder's preprocessing value, or its problem as an error when no flag overrides it. */
  const fromFile = <T>(key: 'mean' | 'std' | 'cropPct' | 'interpolation', flag: T | undefined, value: T | undefined): T | undefined => {
    const problem = facts.problems[key];
    if (flag === undefined && problem) throw new VitguardError('E_METADATA', `${problem} (or pass --${key === 'cropPct' ? 'crop-pct' : key})`);
    return value;
  };
  const mean = r.pick('preprocessing.mean', '--mean', `per-channel input mean of this ${C}-channel model`, [
    ['flag', perChannel(opts.mean)], [fileSource, perChannel(fromFile('mean', opts.mean, facts.mean))], ['metadata', perChannel(jsonList(md, 'mean'))], ['arch name', rgb?.mean],
  ]);
  const std = r.pick('preprocessing.std', '--std', `per-channel input std of this ${C}-channel model`, [
    ['flag', perChannel(opts.std)], [fileSource, perChannel(fromFile('std', opts.std, facts.std))], ['metadata', perChannel(jsonList(md, 'std'))], ['arch name', rgb?.std],
  ]);
  const cropPct = r.pick('preprocessing.cropPct', '--crop-pct', 'the resize-then-centre-crop ratio of the evaluation transform', [
    ['flag', opts.cropPct], [fileSource, fromFile('cropPct', opts.cropPct, facts.cropPct)], ['metadata', num(md, 'crop_pct')], ['arch name', defaults?.cropPct],
  ]);
  const interpolation = r.pick('preprocessing.interpolation', '--interpolation', 'bicubic or bilinear resizing', [
    ['flag', opts.interpolation], [fileSource, fromFile('interpolation', opts.interpolation, facts.interpolation)],
    ['metadata', parseInterpolation(md.interpolation, 'input metadata')], ['arch name', defaults?.interpolation],
  ]);
  let mdLabels: string[] | undefined;
  if (md.labels) {
    try { mdLabels = JSON.parse(md.labels); } catch { throw new VitguardError('E_METADATA', 'input __metadata__.labels is not JSON'); }
  }
  const labels = r.pick<string[]>('labels', '--labels', '', [
    ['flag', opts.labels], ['config.json', facts.labels], ['metadata', mdLabels], ['default', imagenetLabels(partial.numClasses)],
  ])!;
  r.throwIfMissing();

  const config = validateConfig(partial);
  const preprocessing: Preprocessing = validatePreprocessing({ mean: mean!, std: std!, cropPct: cropPct!, interpolation: interpolation! }, C);
  if (!Array.isArray(labels) || labels.length !== config.numClasses) {
    throw new VitguardError('E_METADATA', `labels: got ${Array.isArray(labels) ? labels.length : 'no'} labels for a head of ${config.numClasses} classes`);
  }
  const meta: ModelMeta = { arch, config, labels: labels.map(String), preprocessing, scheme: { name: 'fp32' }, extra: {} };
  return { tensors, meta, bytes: writeSafetensors(tensors, encodeMeta(meta)), values: r.values, layout: facts.layout, notes: facts.notes };
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

/** One line per value: `config.heads = 4  (flag)`; labels shortened. */
export function describeValues(values: ConfigValue[]): string[] {
  const show = (v: unknown) => {
    if (Array.isArray(v) && v.length > 6) return `[${v.slice(0, 3).map((x) => JSON.stringify(x)).join(', ')}, … ${v.length} in all]`;
    return JSON.stringify(v);
  };
  const w = Math.max(...values.map((v) => v.key.length));
  return values.map((v) => `  ${v.key.padEnd(w)}  ${show(v.value)}  (${v.source})`);
}
