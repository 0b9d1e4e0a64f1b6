import { describe, expect, it } from 'vitest';
import { Engine } from '../../sdk/engine/index.js';
import { encodeMeta, readModel, type ModelFile } from '../../sdk/format/model.js';
import { f32Tensor, toFloat32, writeSafetensors } from '../../sdk/format/safetensors.js';
import { quantizeModel } from '../../sdk/quant/index.js';
import { channelMaxRatio, probeInputStats, quantizeOutlierAware, topChannels } from '../../sdk/study/outlier-scheme.js';
import { modelForScheme } from '../../sdk/study/schemes.js';
import { tinyModel, TINY_FMNIST } from './helpers.js';

const J = 5; // the planted outlier channel
const GAIN = 60;

/**
 * Plant an outlier input channel J in every qkv and fc1 (as LayerNorm gammas do in real ViTs) without changing the
 * fp32 function: norm1/norm2 gamma[J] and beta[J] ×GAIN, the matching weight column ÷GAIN.
 */
function plantOutlier(file: ModelFile): ModelFile {
  const t = new Map(file.tensors);
  const scale = (name: string, f: (a: Float32Array) => void) => { const a = toFloat32(t.get(name)!).slice(); f(a); t.set(name, f32Tensor([...t.get(name)!.shape], a)); };
  const D = TINY_FMNIST.dim;
  for (let b = 0; b < TINY_FMNIST.depth; b++) {
    for (const [norm, lin] of [['norm1', 'attn.qkv'], ['norm2', 'mlp.fc1']]) {
      scale(`blocks.${b}.${norm}.weight`, (a) => { a[J] *= GAIN; });
      scale(`blocks.${b}.${norm}.bias`, (a) => { a[J] *= GAIN; });
      scale(`blocks.${b}.${lin}.weight`, (a) => { for (let n = 0; n < a.length / D; n++) a[n * D + J] /= GAIN; });
    }
  }
  return readModel(writeSafetensors(t, encodeMeta(file.meta)));
}

function images(n: number, seed: number): Float32Array {
  const x = new Float32Array(n * 28 * 28);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.013 * seed + seed) * 1.5;
  return x;
}

async function logits(file: ModelFile, x: Float32Array, n: number): Promise<Float32Array[]> {
  const e = await Engine.create(file, { maxBatch: 8 });
  const r = e.forwardBatch(x, n).map((o) => o.logits);
  e.dispose();
  return r;
}

const rmse = (a: Float32Array[], b: Float32Array[]) => {
  let s = 0, n = 0;
  a.forEach((v, i) => v.forEach((x, j) => { s += (x - b[i][j]) ** 2; n++; }));
  return Math.sqrt(s / n);
};

describe('outlier-aware schemes', () => {
  it('the probe finds the planted channel; w4a8-oa isolates it and tracks fp32 far better than w4a8', async () => {
    const fp32 = plantOutlier(tinyModel(4));
    const calib = images(8, 1), test = images(6, 7);
    const stats = await probeInputStats(fp32, calib, 8);
    for (let b = 0; b < TINY_FMNIST.depth; b++) {
      expect(Array.from(topChannels(stats.get(`blocks.${b}.attn.qkv`)!, 1))).toEqual([J]);
      expect(Array.from(topChannels(stats.get(`blocks.${b}.mlp.fc1`)!, 1))).toEqual([J]);
      expect(channelMaxRatio(stats.get(`blocks.${b}.attn.qkv`)!)).toBeGreaterThan(GAIN / 4);
    }
    const ref = await logits(fp32, test, 6);
    const plain = rmse(await logits(quantizeModel(fp32, { scheme: 'w4a8' }), test, 6), ref);
    const oaFile = quantizeOutlierAware(fp32, 'w4a8-oa', stats, { channels: 2 });
    expect(oaFile.meta.scheme).toMatchObject({ name: 'w4a8-oa', base: 'w4a8', outlierChannels: 2 });
    expect(Array.from(new Int32Array(oaFile.tensors.get('blocks.0.attn.qkv.outlier.idx')!.bytes.slice().buffer))).toContain(J);
    const oa = rmse(await logits(readModel(writeSafetensors(oaFile.tensors, oaFile.metadata)), test, 6), ref);
    expect(oa).toBeLessThan(plain / 2); // measured ≈ plain / 2.7; both share the int4 weight error
  }, 30_000);

  it('w4a4-oa runs heavy-tailed layers with 8-bit activations and is closer to fp32 than w4a4', async () => {
    const fp32 = plantOutlier(tinyModel(4));
    const calib = images(8, 1), test = images(6, 7);
    const oaFile = await modelForScheme(fp32, 'w4a4-oa', { calib: { images: calib, n: 8 } });
    const a8 = oaFile.meta.scheme.a8Layers as string[];
    expect(a8).toEqual(expect.arrayContaining(['blocks.0.attn.qkv', 'blocks.0.mlp.fc1', 'blocks.1.attn.qkv', 'blocks.1.mlp.fc1']));
    expect(oaFile.meta.scheme.outlierChannels).toBe(0);
    expect([...oaFile.tensors.keys()].some((k) => k.includes('.outlier.'))).toBe(false);
    const ref = await logits(fp32, test, 6);
    const plain = rmse(await logits(quantizeModel(fp32, { scheme: 'w4a4' }), test, 6), ref);
    const oa = rmse(await logits(oaFile, test, 6), ref);
    expect(oa).toBeLessThan(plain / 2);
  }, 30_000);

  it('w4a4-oa 8-bit class tokens: 0 tokens = w4a4 exactly, every token = w4a8 exactly, the class token alone in between', async () => {
    const fp32 = tinyModel(3);
    const T = 17; // 16 patches + class token
    const stats = await probeInputStats(fp32, images(4, 1), 4);
    const test = images(5, 3);
    // ratio Infinity: no layer at 8 bits, so only the token rows differ from w4a4
    const oa = (a8Tokens: number) => quantizeOutlierAware(fp32, 'w4a4-oa', stats, { ratio: Infinity, a8Tokens });
    expect(oa(0).meta.scheme).toMatchObject({ a8Tokens: 0, a8Layers: [], int8Layers: ['patch_embed.proj', 'head'] });
    expect(quantizeOutlierAware(fp32, 'w4a4-oa', stats).meta.scheme.a8Tokens).toBe(1); // default: the class token
    const distilled = tinyModel(3, { ...TINY_FMNIST, distilled: true });
    const dStats = await probeInputStats(distilled, images(2, 1), 2);
    expect(quantizeOutlierAware(distilled, 'w4a4-oa', dStats).meta.scheme.a8Tokens).toBe(2); // class + distillation
    const w4a4 = await logits(quantizeModel(fp32, { scheme: 'w4a4' }), test, 5);
    const w4a8 = await logits(quantizeModel(fp32, { scheme: 'w4a8' }), test, 5);
    for (const int4Memory of ['fast', 'compact'] as const) {
      const run = async (f: ModelFile) => { const e = await Engine.create(f, { maxBatch: 3, int4Memory }); const r = e.forwardBatch(test, 5).map((o) => o.logits); e.dispose(); return r; };
      expect(rmse(await run(oa(0)), w4a4)).toBe(0);
      expect(rmse(await run(oa(T)), w4a8)).toBe(0);
      const cls = await run(oa(1));
      const ref = await logits(fp32, test, 5);
      expect(rmse(cls, w4a4)).toBeGreaterThan(0);
      expect(rmse(cls, ref)).toBeLessThan(rmse(w4a4, ref));
    }
    expect(() => oa(T + 1)).toThrow(/a8Tokens must be an integer in 0\.\.17/);
    expect(() => quantizeOutlierAware(fp32, 'w4a8-oa', stats, { a8Tokens: 1 })).toThrow(/w4a4-oa only/);
    const bad = oa(1);
    await expect(Engine.create({ ...bad, meta: { ...bad.meta, scheme: { ...bad.meta.scheme, a8Tokens: -1 } } })).rejects.toThrow(/a8Tokens must be an integer/);
  }, 30_000);

  it('errors: missing calibration, corrupt outlier index, wrong metadata', async () => {
    const fp32 = tinyModel(4);
    await expect(modelForScheme(fp32, 'w4a8-oa')).rejects.toThrow(/needs ID calibration images/);
    const stats = await probeInputStats(fp32, images(2, 1), 2);
    const f = quantizeOutlierAware(fp32, 'w4a8-oa', stats, { channels: 2 });
    f.tensors.set('blocks.0.attn.qkv.outlier.idx', { dtype: 'I32', shape: [2], bytes: new Uint8Array(new Int32Array([3, 3]).buffer) });
    await expect(Engine.create(f)).rejects.toThrow(/ascending channel indices/);
    const g = quantizeOutlierAware(fp32, 'w4a8-oa', stats, { channels: 2 });
    await expect(Engine.create({ ...g, meta: { ...g.meta, scheme: { ...g.meta.scheme, base: 'w8a8' } } })).rejects.toThrow(/needs base "w4a8"/);
    expect(() => topChannels(new Float32Array(4), 4)).toThrow(/1\.\.3/);
  });
});
