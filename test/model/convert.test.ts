import { describe, expect, it } from 'vitest';
import { configForArch, expectedTensors } from '../../sdk/model/arch.js';
import { convertCheckpoint } from '../../sdk/model/convert.js';
import { randomCheckpoint } from '../../sdk/model/random.js';
import { readModel, type ViTConfig } from '../../sdk/format/model.js';
import { f32Tensor, f32ToF16, toFloat32, writeSafetensors, type Tensor } from '../../sdk/format/safetensors.js';
import { VitguardError } from '../../sdk/errors.js';

const small = (over: Partial<ViTConfig> = {}): ViTConfig => ({
  imgSize: 32, patch: 4, inChans: 3, dim: 48, depth: 2, heads: 3, mlpHidden: 96, numClasses: 10,
  distilled: false, layerScale: false, noEmbedClass: false, eps: 1e-6, ...over,
});

/** What a checkpoint trained outside timm's zoo must be told besides the head count. */
const OUTSIDE_ZOO = { eps: 1e-6, mean: [0.5], std: [0.5], cropPct: 1, interpolation: 'bilinear' as const };

function errCode(fn: () => unknown): { code: string; message: string } {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(VitguardError); return e as VitguardError; }
  throw new Error('expected a VitguardError');
}

describe('convert', () => {
  it('infers timm zoo configs from shapes and fills preprocessing from the name', () => {
    for (const arch of ['deit_tiny_distilled_patch16_224', 'deit3_small_patch16_224', 'vit_small_patch16_224']) {
      const want = configForArch(arch);
      const out = convertCheckpoint(writeSafetensors(randomCheckpoint(want, 1)), { arch });
      expect(out.meta.config).toEqual(want);
      expect(out.meta.preprocessing.interpolation).toBe('bicubic');
      expect(out.meta.preprocessing.cropPct).toBe(0.9);
      expect(out.meta.preprocessing.mean).toEqual(arch.startsWith('vit') ? [0.5, 0.5, 0.5] : [0.485, 0.456, 0.406]);
      expect(readModel(out.bytes).meta.config).toEqual(want); // the written file reads back the same
      const src = Object.fromEntries(out.values.map((v) => [v.key, v.source]));
      expect(src).toMatchObject({ arch: 'flag', 'config.heads': 'arch name', 'config.eps': 'arch name', 'config.dim': 'shape', 'config.depth': 'shape', 'preprocessing.mean': 'arch name', labels: 'default' });
    }
  }, 60_000);

  it('converts a model trained outside the zoo (32×32, patch 4, 10 classes, mlp ratio 2) with overrides', () => {
    const c = small({ distilled: true });
    const out = convertCheckpoint(writeSafetensors(randomCheckpoint(c, 2)), {
      heads: 3, mean: [0.5], std: [0.25], cropPct: 1, interpolation: 'bilinear', eps: 1e-5,
      labels: Array.from({ length: 10 }, (_, i) => `L${i}`),
    });
    expect(out.meta.config).toEqual({ ...c, eps: 1e-5 });
    expect(out.meta.arch).toBe('deit_custom_patch4_32');
    expect(out.meta.preprocessing).toEqual({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], cropPct: 1, interpolation: 'bilinear' });
    expect(out.meta.labels[3]).toBe('L3');
  });

  it('tells no_embed_class (DeiT3) from the pos_embed row count', () => {
    const out = convertCheckpoint(writeSafetensors(randomCheckpoint(small({ layerScale: true, noEmbedClass: true }), 3)), { heads: 3, ...OUTSIDE_ZOO });
    expect(out.meta.config.noEmbedClass).toBe(true);
    expect(out.meta.config.layerScale).toBe(true);
    expect(out.meta.arch.startsWith('deit3')).toBe(true);
  });

  it('reads heads, labels and preprocessing from the input metadata (as the training tool writes them)', () => {
    const md = { num_heads: '4', eps: '1e-6', labels: JSON.stringify(Array.from({ length: 10 }, (_, i) => `c${i}`)), mean: '[0.286]', std: '[0.353]', crop_pct: '1.0', interpolation: 'bilinear' };
    const out = convertCheckpoint(writeSafetensors(randomCheckpoint(small({ inChans: 1, dim: 64, heads: 4 }), 4), md));
    expect(out.meta.config.heads).toBe(4);
    expect(out.meta.config.inChans).toBe(1);
    expect(out.meta.preprocessing.mean).toEqual([0.286]);
    expect(out.meta.labels[9]).toBe('c9');
    const src = Object.fromEntries(out.values.map((v) => [v.key, v.source]));
    expect(src).toMatchObject({ 'config.heads': 'metadata', 'config.eps': 'metadata', 'preprocessing.mean': 'metadata', 'preprocessing.cropPct': 'metadata', labels: 'metadata' });
  });

  it('never guesses the head count: without a flag, metadata or a timm name it stops and names every missing flag', () => {
    // dim 128 with 4 heads: the old dim/64 rule would have picked 2 and silently changed every attention map
    const bytes = writeSafetensors(randomCheckpoint(small({ dim: 128, heads: 4 }), 10));
    const e = errCode(() => convertCheckpoint(bytes));
    expect(e.code).toBe('E_CONFIG_MISSING');
    for (const flag of ['--heads', '--eps', '--mean', '--std', '--crop-pct', '--interpolation']) expect(e.message).toContain(flag);
    const e2 = errCode(() => convertCheckpoint(bytes, { ...OUTSIDE_ZOO }));
    expect(e2.code).toBe('E_CONFIG_MISSING');
    expect(e2.message).toContain('--heads');
    expect(e2.message).not.toContain('--eps');
    const out = convertCheckpoint(bytes, { heads: 4, ...OUTSIDE_ZOO });
    expect(out.meta.config.heads).toBe(4);
    expect(out.values.find((v) => v.key === 'config.heads')).toEqual({ key: 'config.heads', value: 4, source: 'flag' });
    // a name timm does not know (as the training tool writes) gives neither heads nor eps
    const e3 = errCode(() => convertCheckpoint(bytes, { arch: 'vit_cifar_patch4_32', ...OUTSIDE_ZOO }));
    expect(e3.message).toContain('--heads');
  });

  it('reads the image side and no_embed_class from the pos_embed row count', () => {
    const out = convertCheckpoint(writeSafetensors(randomCheckpoint(small(), 12)), { heads: 3, ...OUTSIDE_ZOO });
    expect(out.values.find((v) => v.key === 'config.noEmbedClass')!.source).toBe('shape');
    expect(out.values.find((v) => v.key === 'config.imgSize')).toEqual({ key: 'config.imgSize', value: 32, source: 'shape' });
  });

  it('registers, class token and fc_norm come from the tensors; the pool from a flag, a file or a name where shapes leave it open', () => {
    // timm's vit_*_reg4_gap layout: no class token, 4 registers outside pos_embed, fc_norm instead of norm
    const gap = small({ regTokens: 4, classToken: false, noEmbedClass: true, layerScale: true, globalPool: 'avg', fcNorm: true });
    const bytes = writeSafetensors(randomCheckpoint(gap, 13));
    const e = errCode(() => convertCheckpoint(bytes, { heads: 3, ...OUTSIDE_ZOO }));
    expect(e.code).toBe('E_CONFIG_MISSING');
    expect(e.message).toContain('--global-pool');
    const out = convertCheckpoint(bytes, { heads: 3, globalPool: 'avg', ...OUTSIDE_ZOO });
    expect(out.meta.config).toEqual(gap);
    const src = Object.fromEntries(out.values.map((v) => [v.key, v.source]));
    expect(src).toMatchObject({ 'config.regTokens': 'shape', 'config.classToken': 'shape', 'config.fcNorm': 'shape', 'config.globalPool': 'flag' });
    expect(out.meta.arch.startsWith('vit_custom')).toBe(true);
    // the same from the input's metadata, and a timm register name (whose zoo config says avg)
    expect(convertCheckpoint(writeSafetensors(randomCheckpoint(gap, 13), { global_pool: 'avg' }), { heads: 3, ...OUTSIDE_ZOO }).values.find((v) => v.key === 'config.globalPool')!.source).toBe('metadata');
    expect(convertCheckpoint(bytes, { arch: 'vit_little_patch16_reg4_gap_256', heads: 3 }).meta.config.globalPool).toBe('avg');
    expect(errCode(() => convertCheckpoint(bytes, { heads: 3, globalPool: 'token', ...OUTSIDE_ZOO })).code).toBe('E_METADATA'); // no class token to read
    // a class token with registers that have position embeddings, no fc_norm: timm's token head, by shape
    const reg = small({ regTokens: 2 });
    const out2 = convertCheckpoint(writeSafetensors(randomCheckpoint(reg, 14)), { heads: 3, ...OUTSIDE_ZOO });
    expect(out2.meta.config).toEqual(reg);
    expect(out2.values.find((v) => v.key === 'config.globalPool')).toEqual({ key: 'config.globalPool', value: 'token', source: 'shape' });
    // plain models keep their metadata as it was: no optional keys
    expect(Object.keys(convertCheckpoint(writeSafetensors(randomCheckpoint(small(), 15)), { heads: 3, ...OUTSIDE_ZOO }).meta.config)).not.toContain('regTokens');
  });

  it('asks for the image side when pos_embed fits two grids (class token + 4 registers: 9 rows = 3² patches, or 2² + 5)', () => {
    const c = small({ imgSize: 12, regTokens: 4, noEmbedClass: true });
    const bytes = writeSafetensors(randomCheckpoint(c, 16));
    const e = errCode(() => convertCheckpoint(bytes, { heads: 3, ...OUTSIDE_ZOO }));
    expect(e.code).toBe('E_CONFIG_MISSING');
    expect(e.message).toContain('--img-size');
    expect(convertCheckpoint(bytes, { heads: 3, imgSize: 12, ...OUTSIDE_ZOO }).meta.config).toEqual(c);
    const other = convertCheckpoint(bytes, { heads: 3, imgSize: 8, ...OUTSIDE_ZOO }).meta.config; // the other reading
    expect(other).toMatchObject({ imgSize: 8, noEmbedClass: false });
    expect(errCode(() => convertCheckpoint(bytes, { heads: 3, imgSize: 16, ...OUTSIDE_ZOO })).code).toBe('E_TENSOR_SHAPE');
  });

  it('timm qkv_bias=False checkpoints: the missing qkv biases become zeros, with a note', () => {
    const t = randomCheckpoint(small(), 17);
    for (let i = 0; i < 2; i++) t.delete(`blocks.${i}.attn.qkv.bias`);
    const out = convertCheckpoint(writeSafetensors(t), { heads: 3, ...OUTSIDE_ZOO });
    expect(Array.from(toFloat32(out.tensors.get('blocks.1.attn.qkv.bias')!))).toEqual(Array(144).fill(0));
    expect(out.notes.join(' ')).toMatch(/qkv_bias=False/);
  });

  it('turns F16 weights into F32', () => {
    const t = randomCheckpoint(small(), 5);
    const half = new Map<string, Tensor>();
    for (const [k, v] of t) {
      const f = toFloat32(v);
      half.set(k, { dtype: 'F16', shape: v.shape, bytes: new Uint8Array(Uint16Array.from(f, f32ToF16).buffer) });
    }
    const out = convertCheckpoint(writeSafetensors(half), { heads: 3, ...OUTSIDE_ZOO });
    const w = toFloat32(out.tensors.get('head.weight')!);
    const w0 = toFloat32(t.get('head.weight')!);
    expect(out.tensors.get('head.weight')!.dtype).toBe('F32');
    expect(Math.abs(w[7] - w0[7])).toBeLessThan(1e-3 * Math.abs(w0[7]) + 1e-6);
  });

  it('names unknown, missing and misshapen tensors', () => {
    const t = randomCheckpoint(small(), 6);
    t.set('pre_logits.fc.weight', f32Tensor([48], new Float32Array(48)));
    let e = errCode(() => convertCheckpoint(writeSafetensors(t)));
    expect(e.code).toBe('E_TENSOR_UNKNOWN');
    expect(e.message).toContain('pre_logits.fc.weight');

    const t2 = randomCheckpoint(small(), 6);
    t2.delete('blocks.1.mlp.fc2.bias');
    e = errCode(() => convertCheckpoint(writeSafetensors(t2)));
    expect(e.code).toBe('E_TENSOR_MISSING');
    expect(e.message).toContain('blocks.1.mlp.fc2.bias');

    const t3 = randomCheckpoint(small(), 6);
    t3.set('blocks.0.attn.proj.weight', f32Tensor([48, 47], new Float32Array(48 * 47)));
    e = errCode(() => convertCheckpoint(writeSafetensors(t3)));
    expect(e.code).toBe('E_TENSOR_SHAPE');
    expect(e.message).toContain('blocks.0.attn.proj.weight');
  });

  it('rejects NaN weights, unknown architectures and RGB defaults on 1-channel models', () => {
    const t = randomCheckpoint(small(), 7);
    toFloat32(t.get('norm.bias')!)[5] = NaN;
    const e = errCode(() => convertCheckpoint(writeSafetensors(t), { heads: 3, ...OUTSIDE_ZOO }));
    expect(e.code).toBe('E_NONFINITE');
    expect(e.message).toContain('norm.bias');
    expect(errCode(() => convertCheckpoint(writeSafetensors(randomCheckpoint(small(), 8)), { arch: 'resnet50' })).code).toBe('E_UNKNOWN_ARCH');
    expect(errCode(() => configForArch('deit_gigantic_patch16_224')).code).toBe('E_UNKNOWN_ARCH');
    // timm's RGB statistics never fill a 1-channel model's mean/std, even with a zoo name
    const e1 = errCode(() => convertCheckpoint(writeSafetensors(randomCheckpoint(small({ inChans: 1 }), 9)), { arch: 'vit_small_patch16_224', heads: 3 }));
    expect(e1.code).toBe('E_CONFIG_MISSING');
    expect(e1.message).toMatch(/preprocessing\.mean \(pass --mean/);
  });

  it('lists every tensor of a config exactly once', () => {
    const names = expectedTensors(configForArch('deit3_small_patch16_224')).map(([n]) => n);
    expect(new Set(names).size).toBe(names.length);
    expect(names.length).toBe(4 + 12 * 14 + 4); // patch embed ×2, cls, pos; 14 per block; norm ×2, head ×2
  });
});
