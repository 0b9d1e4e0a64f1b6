// Architecture names → configs and preprocessing defaults (timm's values), and the tensor list of a config.

import { VitguardError } from '../errors.js';
import { numPatches, numPrefixTokens, tokenLayout, type Preprocessing, type ViTConfig } from '../format/model.js';

export type Family = 'vit' | 'deit' | 'deit3';

const WIDTHS: Record<string, { dim: number; heads: number }> = {
  tiny: { dim: 192, heads: 3 },
  small: { dim: 384, heads: 6 },
  medium: { dim: 512, heads: 8 },
  base: { dim: 768, heads: 12 },
  large: { dim: 1024, heads: 16 },
};
const DEPTHS: Record<string, number> = { tiny: 12, small: 12, medium: 12, base: 12, large: 24 };

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

export function familyOf(arch: string): Family {
  const name = arch.toLowerCase();
  if (name.startsWith('deit3')) return 'deit3';
  if (name.startsWith('deit')) return 'deit';
  if (name.startsWith('vit')) return 'vit';
  throw new VitguardError('E_UNKNOWN_ARCH', `unknown architecture "${arch}": expected a timm name starting with vit_, deit_ or deit3_`);
}

// timm's register / average-pool ViTs (timm/models/vision_transformer.py: class_token=False, no_embed_class=True,
// reg_tokens=4, global_pool='avg' so fc_norm replaces norm; init_values → layer scale), 256 px, crop_pct 0.95,
// mean/std 0.5, bicubic. Exact names only: the zoo regex below does not describe them.
const REGISTER_ARCHS: Record<string, { dim: number; depth: number; heads: number; mlpHidden: number; layerScale: boolean }> = {
  vit_little_patch16_reg4_gap_256: { dim: 320, depth: 14, heads: 5, mlpHidden: 1792, layerScale: true },
  vit_medium_patch16_reg4_gap_256: { dim: 512, depth: 12, heads: 8, mlpHidden: 2048, layerScale: true },
  vit_betwixt_patch16_reg4_gap_256: { dim: 640, depth: 12, heads: 10, mlpHidden: 2560, layerScale: true },
  vit_base_patch16_reg4_gap_256: { dim: 768, depth: 12, heads: 12, mlpHidden: 3072, layerScale: false },
};
const baseName = (arch: string) => arch.toLowerCase().split('.')[0];

/** timm's default preprocessing for an architecture name (FACTS.md). */
export function defaultPreprocessing(arch: string): Preprocessing {
  if (baseName(arch) in REGISTER_ARCHS) return { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], cropPct: 0.95, interpolation: 'bicubic' };
  const family = familyOf(arch);
  const in22ft = /in22k|in21k/.test(arch) && family === 'deit3';
  if (family === 'vit') return { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], cropPct: 0.9, interpolation: 'bicubic' };
  return { mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD], cropPct: in22ft ? 1.0 : 0.9, interpolation: 'bicubic' };
}

/** The full config of a timm zoo name such as `deit_tiny_distilled_patch16_224` (1000 ImageNet classes). */
export function configForArch(arch: string): ViTConfig {
  const reg = REGISTER_ARCHS[baseName(arch)];
  if (reg) {
    return {
      imgSize: 256, patch: 16, inChans: 3, dim: reg.dim, depth: reg.depth, heads: reg.heads, mlpHidden: reg.mlpHidden, numClasses: 1000,
      distilled: false, layerScale: reg.layerScale, noEmbedClass: true, eps: 1e-6, regTokens: 4, classToken: false, globalPool: 'avg', fcNorm: true,
    };
  }
  const family = familyOf(arch);
  const m = /^(?:vit|deit3?)_(tiny|small|medium|base|large)_(distilled_)?patch(\d+)_(\d+)/.exec(arch.toLowerCase().split('.')[0]);
  if (!m) {
    throw new VitguardError('E_UNKNOWN_ARCH', `unknown architecture "${arch}": expected e.g. deit_tiny_patch16_224, deit3_small_patch16_224, vit_base_patch16_224`);
  }
  const [, size, distilled, patch, img] = m;
  if (distilled && family !== 'deit') throw new VitguardError('E_UNKNOWN_ARCH', `"${arch}": only deit_* models are distilled`);
  const { dim, heads } = WIDTHS[size];
  return {
    imgSize: Number(img),
    patch: Number(patch),
    inChans: 3,
    dim,
    depth: DEPTHS[size],
    heads,
    mlpHidden: dim * 4,
    numClasses: 1000,
    distilled: Boolean(distilled),
    layerScale: family === 'deit3',
    noEmbedClass: family === 'deit3',
    eps: 1e-6,
  };
}

/** Every tensor a timm checkpoint of this config holds, with its shape, in a stable order. */
export function expectedTensors(c: ViTConfig): Array<[string, number[]]> {
  const D = c.dim;
  const n = numPatches(c);
  const t = tokenLayout(c);
  const list: Array<[string, number[]]> = [
    ['patch_embed.proj.weight', [D, c.inChans, c.patch, c.patch]],
    ['patch_embed.proj.bias', [D]],
  ];
  if (t.classToken) list.push(['cls_token', [1, 1, D]]);
  if (c.distilled) list.push(['dist_token', [1, 1, D]]);
  if (t.regTokens) list.push(['reg_token', [1, t.regTokens, D]]);
  list.push(['pos_embed', [1, c.noEmbedClass ? n : n + numPrefixTokens(c), D]]);
  for (let i = 0; i < c.depth; i++) {
    const b = `blocks.${i}.`;
    list.push(
      [b + 'norm1.weight', [D]], [b + 'norm1.bias', [D]],
      [b + 'attn.qkv.weight', [3 * D, D]], [b + 'attn.qkv.bias', [3 * D]],
      [b + 'attn.proj.weight', [D, D]], [b + 'attn.proj.bias', [D]],
    );
    if (c.layerScale) list.push([b + 'ls1.gamma', [D]]);
    list.push(
      [b + 'norm2.weight', [D]], [b + 'norm2.bias', [D]],
      [b + 'mlp.fc1.weight', [c.mlpHidden, D]], [b + 'mlp.fc1.bias', [c.mlpHidden]],
      [b + 'mlp.fc2.weight', [D, c.mlpHidden]], [b + 'mlp.fc2.bias', [D]],
    );
    if (c.layerScale) list.push([b + 'ls2.gamma', [D]]);
  }
  const norm = t.fcNorm ? 'fc_norm' : 'norm'; // timm: norm is Identity when fc_norm is used
  list.push([`${norm}.weight`, [D]], [`${norm}.bias`, [D]], ['head.weight', [c.numClasses, D]], ['head.bias', [c.numClasses]]);
  if (c.distilled) list.push(['head_dist.weight', [c.numClasses, D]], ['head_dist.bias', [c.numClasses]]);
  return list;
}

export function imagenetLabels(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `class_${i}`);
}
