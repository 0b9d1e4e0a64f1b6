// The model folders people download, read into timm tensor names and config facts for `convert`.
//
// timm hub folder (timm.models.push_to_hf_hub / save_for_hf): model.safetensors with timm names + config.json
//   { architecture, num_classes, num_features, global_pool?, label_names? (list, or {id: name}), model_args?,
//     pretrained_cfg: { input_size [C,H,W], mean, std, crop_pct, crop_mode, interpolation, ... } }
//   (older files are one flat dict with `architecture` beside the pretrained_cfg keys, labels under `labels`).
//
// Hugging Face transformers folder (save_pretrained): model.safetensors + config.json { architectures, model_type,
//   hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, hidden_act, layer_norm_eps, image_size,
//   patch_size, num_channels, qkv_bias, id2label } + preprocessor_config.json { do_resize, size, resample (PIL enum),
//   do_center_crop, crop_size, do_rescale, rescale_factor, do_normalize, image_mean, image_std }.
//   Tensors, P = `vit.` (ViTForImageClassification) or `deit.` (DeiT*), i = layer:
//     P embeddings.cls_token [1,1,D]                    → cls_token
//     P embeddings.distillation_token [1,1,D]           → dist_token (DeiT)
//     P embeddings.position_embeddings [1,T,D]          → pos_embed (cls (+ dist) rows first)
//     P embeddings.patch_embeddings.projection.{w,b}    → patch_embed.proj
//     P encoder.layer.i.layernorm_before / _after       → blocks.i.norm1 / norm2
//     P encoder.layer.i.attention.attention.{query,key,value}.{w,b} [D,D] → blocks.i.attn.qkv [3D,D] (rows q | k | v)
//     P encoder.layer.i.attention.output.dense          → blocks.i.attn.proj
//     P encoder.layer.i.intermediate.dense / output.dense → blocks.i.mlp.fc1 / fc2
//     P layernorm                                       → norm
//     classifier (ViT, DeiT without teacher) → head; cls_classifier / distillation_classifier (WithTeacher) → head / head_dist
//   DeiTForImageClassification keeps the distillation token in the sequence but reads only the class token: it maps to
//   reg_token [1,1,D] (a prefix token with a position embedding and no head), which is exactly what it does.
//   This is the mapping of transformers' own convert_vit_timm_to_pytorch.py / convert_deit_timm_to_pytorch.py, read
//   backwards. The forward passes agree with timm's (pre-norm blocks, exact GELU for hidden_act "gelu", the
//   classifier on token 0; DeiTForImageClassificationWithTeacher averages the two heads as timm's eval does).

import { VitguardError } from '../errors.js';
import { f32Tensor, toFloat32, type Tensor } from '../format/safetensors.js';
import type { Interpolation } from '../format/model.js';

export type Layout = 'timm' | 'timm hub' | 'transformers';

/** What the side files of a folder say, each field optional (absent = the file does not say). */
export interface FolderFacts {
  layout: Layout;
  /** timm architecture name (timm hub's `architecture`). */
  arch?: string;
  /** transformers class name (config.json `architectures[0]`). */
  hfClass?: string;
  heads?: number;
  eps?: number;
  /**
   * LayerNorm epsilon implied by the architecture being a timm VisionTransformer built with timm's default norm layer
   * (timm.layers.LayerNorm, eps 1e-6): set for timm hub folders whose model_args do not replace norm_layer.
   */
  timmEps?: number;
  imgSize?: number;
  patch?: number;
  inChans?: number;
  dim?: number;
  depth?: number;
  mlpHidden?: number;
  numClasses?: number;
  labels?: string[];
  globalPool?: string;
  regTokens?: number;
  classToken?: boolean;
  fcNorm?: boolean;
  noEmbedClass?: boolean;
  /** From config.json (timm pretrained_cfg) or preprocessor_config.json, with the file each came from. */
  mean?: number[];
  std?: number[];
  cropPct?: number;
  interpolation?: Interpolation;
  preprocessingFile?: 'config.json' | 'preprocessor_config.json';
  /** Why a preprocessing value could not be used (shown when no flag overrides it). */
  problems: Partial<Record<'mean' | 'std' | 'cropPct' | 'interpolation', string>>;
  /** Things the user should know (e.g. transformers squashes non-square images where vitguard crops). */
  notes: string[];
}

function bad(file: string, msg: string): never {
  throw new VitguardError('E_METADATA', `${file}: ${msg}`);
}

export function parseJsonFile(text: string, file: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return bad(file, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(file, 'expected a JSON object');
  return v as Record<string, unknown>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function optInt(o: Record<string, unknown>, key: string, file: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Number.isInteger(v) || (v as number) < 0) bad(file, `${key} = ${JSON.stringify(v)} is not a non-negative integer`);
  return v as number;
}

function optNum(o: Record<string, unknown>, key: string, file: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(file, `${key} = ${JSON.stringify(v)} is not a number`);
  return v;
}

function optBool(o: Record<string, unknown>, key: string, file: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') bad(file, `${key} = ${JSON.stringify(v)} is not true or false`);
  return v;
}

/** A list of numbers, or one number meaning every channel (transformers allows both). */
function numbers(v: unknown): number[] | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return [v];
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x))) return v as number[];
  return undefined;
}

/** Labels from a list, or from an {index: name} dict that must cover 0..n-1. */
function labelList(v: unknown, file: string, key: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.map(String);
  if (!isObj(v)) bad(file, `${key} must be a list or an {index: name} object`);
  const entries = Object.entries(v).map(([k, name]) => [Number(k), String(name)] as const);
  const out: string[] = [];
  for (const [i, name] of entries) {
    if (!Number.isInteger(i) || i < 0 || i >= entries.length) bad(file, `${key} has index ${JSON.stringify(i)} outside 0..${entries.length - 1}`);
    out[i] = name;
  }
  return out;
}

function interpolationName(v: unknown): Interpolation | string {
  if (v === 'bicubic' || v === 'bilinear') return v;
  return String(v);
}

// --- timm hub config.json -----------------------------------------------------------------------------------------

export function readTimmHubConfig(cfg: Record<string, unknown>): FolderFacts {
  const file = 'config.json';
  const facts: FolderFacts = { layout: 'timm hub', problems: {}, notes: [] };
  // legacy single dict: the pretrained_cfg keys sit beside `architecture`
  const pre = isObj(cfg.pretrained_cfg) ? cfg.pretrained_cfg : cfg;
  if (typeof cfg.architecture !== 'string' || !cfg.architecture) bad(file, '"architecture" must be a timm model name');
  facts.arch = cfg.architecture;
  facts.numClasses = optInt(cfg, 'num_classes', file) ?? optInt(pre, 'num_classes', file);
  facts.labels = labelList(cfg.label_names ?? pre.label_names ?? cfg.labels ?? pre.labels, file, 'label_names');
  if (typeof cfg.global_pool === 'string' && cfg.global_pool) facts.globalPool = cfg.global_pool;
  const args = isObj(cfg.model_args) ? cfg.model_args : {};
  facts.heads = optInt(args, 'num_heads', file);
  facts.dim = optInt(args, 'embed_dim', file);
  facts.depth = optInt(args, 'depth', file);
  facts.regTokens = optInt(args, 'reg_tokens', file);
  facts.classToken = optBool(args, 'class_token', file);
  facts.fcNorm = optBool(args, 'fc_norm', file);
  facts.noEmbedClass = optBool(args, 'no_embed_class', file);
  if (typeof args.global_pool === 'string') facts.globalPool = args.global_pool;
  if (args.norm_layer === undefined) facts.timmEps = 1e-6;
  const input = pre.input_size;
  if (Array.isArray(input) && input.length === 3 && input.every(Number.isInteger)) {
    facts.inChans = input[0];
    if (input[1] !== input[2]) bad(file, `pretrained_cfg.input_size ${JSON.stringify(input)} is not square; vitguard runs square inputs`);
    facts.imgSize = input[1];
  }
  facts.preprocessingFile = file;
  facts.mean = numbers(pre.mean);
  facts.std = numbers(pre.std);
  facts.cropPct = optNum(pre, 'crop_pct', file);
  if (pre.interpolation !== undefined) {
    const i = interpolationName(pre.interpolation);
    if (i === 'bicubic' || i === 'bilinear') facts.interpolation = i;
    else facts.problems.interpolation = `pretrained_cfg.interpolation is ${JSON.stringify(pre.interpolation)}; vitguard resizes bicubic or bilinear`;
  }
  const mode = pre.crop_mode;
  if (mode !== undefined && mode !== 'center') {
    if (mode === 'squash') facts.notes.push('pretrained_cfg.crop_mode is "squash" (resize both sides, no aspect ratio kept); vitguard keeps the aspect ratio and centre-crops: the same on square images');
    else facts.problems.cropPct = `pretrained_cfg.crop_mode is ${JSON.stringify(mode)}; vitguard centre-crops`;
  }
  return facts;
}

// --- transformers config.json + preprocessor_config.json ----------------------------------------------------------

export const HF_CLASSES = ['ViTForImageClassification', 'DeiTForImageClassificationWithTeacher', 'DeiTForImageClassification'] as const;

export function isTransformersConfig(cfg: Record<string, unknown>): boolean {
  return cfg.model_type === 'vit' || cfg.model_type === 'deit' || Array.isArray(cfg.architectures);
}

export function readTransformersConfig(cfg: Record<string, unknown>): FolderFacts {
  const file = 'config.json';
  const facts: FolderFacts = { layout: 'transformers', problems: {}, notes: [] };
  const classes = Array.isArray(cfg.architectures) ? cfg.architectures.map(String) : [];
  const cls = classes.find((c) => (HF_CLASSES as readonly string[]).includes(c));
  if (!cls) {
    throw new VitguardError('E_UNKNOWN_ARCH', `${file}: architectures ${JSON.stringify(cfg.architectures)} (model_type ${JSON.stringify(cfg.model_type)}): vitguard converts ${HF_CLASSES.join(', ')} (image classifiers with a head)`);
  }
  facts.hfClass = cls;
  const act = cfg.hidden_act ?? 'gelu';
  if (act !== 'gelu') throw new VitguardError('E_UNKNOWN_ARCH', `${file}: hidden_act ${JSON.stringify(act)}: vitguard runs the exact (erf) GELU, transformers' "gelu"`);
  facts.heads = optInt(cfg, 'num_attention_heads', file);
  facts.eps = optNum(cfg, 'layer_norm_eps', file);
  facts.imgSize = optInt(cfg, 'image_size', file);
  facts.patch = optInt(cfg, 'patch_size', file);
  facts.inChans = optInt(cfg, 'num_channels', file);
  facts.dim = optInt(cfg, 'hidden_size', file);
  facts.depth = optInt(cfg, 'num_hidden_layers', file);
  facts.mlpHidden = optInt(cfg, 'intermediate_size', file);
  facts.labels = labelList(cfg.id2label, file, 'id2label');
  facts.numClasses = facts.labels?.length;
  return facts;
}

const PIL_RESAMPLE: Record<number, string> = { 0: 'nearest', 1: 'lanczos', 2: 'bilinear', 3: 'bicubic', 4: 'box', 5: 'hamming' };

/** A transformers size: an int, {height, width} or {shortest_edge}; returns the side the short edge is resized to. */
function sizeSide(v: unknown, key: string, notes: string[]): number | undefined {
  if (Number.isInteger(v)) return v as number;
  if (!isObj(v)) return undefined;
  if (Number.isInteger(v.shortest_edge)) return v.shortest_edge as number;
  if (Number.isInteger(v.height) && Number.isInteger(v.width)) {
    if (v.height !== v.width) return undefined;
    notes.push(`preprocessor_config.json resizes to ${v.height}×${v.width} without keeping the aspect ratio (${key}); vitguard resizes the short side and centre-crops: the same on square images`);
    return v.height as number;
  }
  return undefined;
}

export function readPreprocessorConfig(pre: Record<string, unknown>, facts: FolderFacts): void {
  const file = 'preprocessor_config.json';
  facts.preprocessingFile = file;
  const p = facts.problems;
  if (pre.do_rescale !== false) {
    const f = pre.rescale_factor;
    if (f !== undefined && Math.abs(Number(f) - 1 / 255) > 1e-9) {
      p.mean = p.std = `${file} rescales pixels by ${JSON.stringify(f)}, not 1/255; give --mean and --std on the 0..1 scale`;
    }
  } else {
    p.mean = p.std = `${file} has do_rescale false (pixels normalised on the 0..255 scale); give --mean and --std on the 0..1 scale`;
  }
  if (pre.do_normalize === false) {
    facts.mean = [0];
    facts.std = [1];
  } else if (!p.mean) {
    facts.mean = numbers(pre.image_mean);
    facts.std = numbers(pre.image_std);
  }
  if (pre.resample !== undefined) {
    const r = PIL_RESAMPLE[pre.resample as number] ?? String(pre.resample);
    if (r === 'bicubic' || r === 'bilinear') facts.interpolation = r;
    else p.interpolation = `${file} resample is ${JSON.stringify(pre.resample)} (${r}); vitguard resizes bicubic or bilinear`;
  }
  if (pre.do_resize === false) {
    p.cropPct = `${file} has do_resize false; vitguard always resizes (give --crop-pct)`;
    return;
  }
  const side = sizeSide(pre.size, 'size', facts.notes);
  if (side === undefined) {
    p.cropPct = `${file} size ${JSON.stringify(pre.size)} is not a square or shortest-edge size`;
    return;
  }
  if (pre.do_center_crop === true) {
    const crop = Number.isInteger(pre.crop_size) ? (pre.crop_size as number) : isObj(pre.crop_size) && pre.crop_size.height === pre.crop_size.width ? Number(pre.crop_size.height) : NaN;
    if (!Number.isInteger(crop) || crop <= 0) {
      p.cropPct = `${file} crop_size ${JSON.stringify(pre.crop_size)} is not a square size`;
      return;
    }
    if (crop > side) {
      p.cropPct = `${file} crops ${crop} px out of ${side} px (padding); vitguard crops inside the image`;
      return;
    }
    facts.cropPct = crop / side;
    if (facts.imgSize !== undefined && crop !== facts.imgSize) facts.notes.push(`${file} crops to ${crop} px but the model takes ${facts.imgSize} px; vitguard feeds ${facts.imgSize} px`);
  } else {
    facts.cropPct = 1;
    if (facts.imgSize !== undefined && side !== facts.imgSize) facts.notes.push(`${file} resizes to ${side} px but the model takes ${facts.imgSize} px; vitguard feeds ${facts.imgSize} px`);
  }
}

// --- transformers tensor names → timm names ---------------------------------------------------------------------

/** Is this a transformers ViT / DeiT state dict (by its tensor names)? Returns the base prefix. */
export function transformersPrefix(names: Iterable<string>): 'vit.' | 'deit.' | undefined {
  for (const n of names) {
    if (n.startsWith('vit.embeddings.')) return 'vit.';
    if (n.startsWith('deit.embeddings.')) return 'deit.';
  }
  return undefined;
}

/**
 * Rename a transformers ViT / DeiT state dict to timm's names, concatenating query, key and value into qkv (rows
 * q | k | v, as timm's qkv Linear). Missing q/k/v biases (qkv_bias false) become zeros. Tensors the mapping does
 * not know are kept under their own names, for convert's unknown-tensor error to name them.
 * `distillationAs`: where embeddings.distillation_token goes ('dist_token' with two heads, 'reg_token' when only
 * the class head is used: then it is one more prefix token with a position embedding, which is what a register is).
 */
export function transformersToTimm(src: Map<string, Tensor>, prefix: 'vit.' | 'deit.', distillationAs: 'dist_token' | 'reg_token'): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const used = new Set<string>();
  const take = (from: string, to: string) => {
    const t = src.get(from);
    if (!t) return;
    out.set(to, t);
    used.add(from);
  };
  const e = `${prefix}embeddings.`;
  take(e + 'cls_token', 'cls_token');
  take(e + 'distillation_token', distillationAs);
  take(e + 'position_embeddings', 'pos_embed');
  take(e + 'patch_embeddings.projection.weight', 'patch_embed.proj.weight');
  take(e + 'patch_embeddings.projection.bias', 'patch_embed.proj.bias');
  for (let i = 0; src.has(`${prefix}encoder.layer.${i}.attention.attention.query.weight`); i++) {
    const l = `${prefix}encoder.layer.${i}.`;
    const b = `blocks.${i}.`;
    for (const [from, to] of [['layernorm_before', 'norm1'], ['layernorm_after', 'norm2'], ['attention.output.dense', 'attn.proj'], ['intermediate.dense', 'mlp.fc1'], ['output.dense', 'mlp.fc2']]) {
      take(`${l}${from}.weight`, `${b}${to}.weight`);
      take(`${l}${from}.bias`, `${b}${to}.bias`);
    }
    const parts = ['query', 'key', 'value'].map((p) => src.get(`${l}attention.attention.${p}.weight`));
    if (parts.some((p) => !p)) continue; // reported as missing blocks.i.attn.qkv by convert
    const [q, k, v] = parts as Tensor[];
    for (const p of [q, k, v]) {
      if (p.shape.length !== 2 || p.shape[0] !== q.shape[0] || p.shape[1] !== q.shape[1]) {
        throw new VitguardError('E_TENSOR_SHAPE', `${l}attention.attention.{query,key,value}.weight have shapes ${JSON.stringify([q.shape, k.shape, v.shape])}, expected three equal [D, D]`);
      }
    }
    const [D, K] = q.shape;
    const w = new Float32Array(3 * D * K);
    [q, k, v].forEach((p, j) => w.set(toFloat32(p), j * D * K));
    out.set(`${b}attn.qkv.weight`, f32Tensor([3 * D, K], w));
    const bias = new Float32Array(3 * D); // qkv_bias false: no bias tensors, timm's Linear(bias=False) = zeros
    ['query', 'key', 'value'].forEach((p, j) => {
      const t = src.get(`${l}attention.attention.${p}.bias`);
      if (t) {
        if (t.shape.length !== 1 || t.shape[0] !== D) throw new VitguardError('E_TENSOR_SHAPE', `${l}attention.attention.${p}.bias has shape ${JSON.stringify(t.shape)}, expected [${D}]`);
        bias.set(toFloat32(t), j * D);
        used.add(`${l}attention.attention.${p}.bias`);
      }
    });
    out.set(`${b}attn.qkv.bias`, f32Tensor([3 * D], bias));
    for (const p of ['query', 'key', 'value']) used.add(`${l}attention.attention.${p}.weight`);
  }
  take(`${prefix}layernorm.weight`, 'norm.weight');
  take(`${prefix}layernorm.bias`, 'norm.bias');
  for (const [from, to] of [['classifier', 'head'], ['cls_classifier', 'head'], ['distillation_classifier', 'head_dist']]) {
    take(`${from}.weight`, `${to}.weight`);
    take(`${from}.bias`, `${to}.bias`);
  }
  for (const [name, t] of src) if (!used.has(name) && !out.has(name)) out.set(name, t);
  return out;
}
