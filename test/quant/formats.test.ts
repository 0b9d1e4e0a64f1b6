// Formats and quantizer: nibble order, round-trip error, bits per weight, F16 vs F32 scales, file size at
// deit_tiny, stored tensors, and bad input.

import { describe, expect, it } from 'vitest';
import { isVitguardError } from '../../sdk/errors.js';
import { encodeMeta, readModel, type ModelFile, type ModelMeta } from '../../sdk/format/model.js';
import { writeSafetensors } from '../../sdk/format/safetensors.js';
import { configForArch, defaultPreprocessing, imagenetLabels } from '../../sdk/model/arch.js';
import { randomCheckpoint } from '../../sdk/model/random.js';
import {
  bitsPerWeightQ4, bitsPerWeightQ8, dequantizeQ4, dequantizeQ8, q4Tensors, q4Value, quantizeQ4, quantizeQ8, readQ4, SCHEMES,
} from '../../sdk/quant/formats.js';
import { fakeQuantWeights, quantizeModel, simulateModel } from '../../sdk/quant/quantize.js';
import { randomWeights } from './kernels.js';

function rmse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length);
}

function model(arch: string, depth?: number): ModelFile {
  const config = { ...configForArch(arch), ...(depth ? { depth } : {}) };
  const meta: ModelMeta = { arch, config, labels: imagenetLabels(config.numClasses), preprocessing: defaultPreprocessing(arch), scheme: { name: 'fp32' }, extra: {} };
  return readModel(writeSafetensors(randomCheckpoint(config, 1), encodeMeta(meta)));
}

function code(f: () => unknown): string {
  try { f(); } catch (e) { return isVitguardError(e) ? `${e.code}: ${e.message}` : String(e); }
  return 'no error';
}

describe('Q4_G layout', () => {
  it('byte j of block b: low nibble = element 32b+j, high nibble = element 32b+16+j, stored +8', () => {
    const K = 64;
    const w = Float32Array.from({ length: K }, (_, k) => ((k % 15) - 7) / 7); // q = (k mod 15) − 7 exactly
    const x = quantizeQ4(w, 1, K, 32, 'minmax', 'F32');
    expect(x.scale[0]).toBe(Math.fround(1 / 7));
    for (let b = 0; b < 2; b++) for (let j = 0; j < 16; j++) {
      expect(x.q[b * 16 + j] & 15).toBe(((32 * b + j) % 15) - 7 + 8);
      expect(x.q[b * 16 + j] >> 4).toBe(((32 * b + 16 + j) % 15) - 7 + 8);
    }
    for (let k = 0; k < K; k++) expect(q4Value(x, 0, k)).toBe((k % 15) - 7);
  });

  it('bits per weight: 4.5 at group 32 with F16 scales, 8.04 for int8 at K = 768', () => {
    expect(bitsPerWeightQ4(32)).toBe(4.5);
    expect(bitsPerWeightQ4(128)).toBe(4.125);
    expect(bitsPerWeightQ8(768)).toBeCloseTo(8.042, 3);
    const t = q4Tensors(quantizeQ4(randomWeights(192, 768, 1), 192, 768, 32));
    expect((8 * (t.q.bytes.byteLength + t.scale.bytes.byteLength)) / (192 * 768)).toBe(4.5);
  });
});

describe('round-trip error', () => {
  const [N, K] = [64, 768];
  const w = randomWeights(N, K, 5);
  const std = 1 / Math.sqrt(K);

  it('int8 per channel: RMSE < 1 % of the weight std; int4 group 32: < 12 %; larger groups are worse', () => {
    const e8 = rmse(dequantizeQ8(quantizeQ8(w, N, K)), w) / std;
    const e4 = [32, 64, 128].map((G) => rmse(dequantizeQ4(quantizeQ4(w, N, K, G)), w) / std);
    expect(e8).toBeLessThan(0.01);
    expect(e4[0]).toBeLessThan(0.12);
    expect(e4[0]).toBeLessThan(e4[1]);
    expect(e4[1]).toBeLessThan(e4[2]);
  });

  it('mse clipping never loses to min-max (per group), and wins on Gaussian weights', () => {
    for (const G of [32, 128]) {
      const mm = rmse(dequantizeQ4(quantizeQ4(w, N, K, G, 'minmax')), w);
      const mse = rmse(dequantizeQ4(quantizeQ4(w, N, K, G, 'mse')), w);
      expect(mse).toBeLessThan(mm);
    }
  });

  it('F16 scales cost < 0.5 % extra int4 RMSE over F32 scales (so the file uses F16)', () => {
    const e16 = rmse(dequantizeQ4(quantizeQ4(w, N, K, 32, 'minmax', 'F16')), w);
    const e32 = rmse(dequantizeQ4(quantizeQ4(w, N, K, 32, 'minmax', 'F32')), w);
    expect(Math.abs(e16 - e32) / e32).toBeLessThan(0.005);
  });

  it('tiny weights fall back to F32 scales (F16 would underflow)', () => {
    const tiny = w.map((v) => v * 1e-4);
    const x = quantizeQ4(tiny, N, K, 32);
    expect(x.scaleDtype).toBe('F32');
    expect(rmse(dequantizeQ4(x), tiny) / (std * 1e-4)).toBeLessThan(0.12);
  });

  it('fakeQuantWeights: error falls with bits, 8-bit per channel equals the Q8_PC grid', () => {
    const errs = [2, 3, 4, 6, 8].map((b) => rmse(fakeQuantWeights(w, N, K, b), w));
    for (let i = 1; i < errs.length; i++) expect(errs[i]).toBeLessThan(errs[i - 1]);
    const fq8 = fakeQuantWeights(w, N, K, 8), dq8 = dequantizeQ8(quantizeQ8(w, N, K));
    let same = 0;
    for (let i = 0; i < fq8.length; i++) same += fq8[i] === dq8[i] ? 1 : 0; // === : −0 equals 0
    expect(same).toBe(fq8.length);
    expect(rmse(fakeQuantWeights(w, N, K, 4, 32), w)).toBeLessThan(rmse(fakeQuantWeights(w, N, K, 4), w));
  });
});

describe('quantizeModel', () => {
  const small = model('deit_tiny_patch16_224', 2);

  it('writes <layer>.weight.q / .weight.scale for qkv, proj, fc1, fc2 and the scheme in metadata', () => {
    const q = quantizeModel(small, { scheme: 'w4a8' });
    expect(q.tensors.has('blocks.1.mlp.fc1.weight')).toBe(false);
    const t = q.tensors.get('blocks.1.mlp.fc1.weight.q')!;
    expect([t.dtype, ...t.shape]).toEqual(['U8', 768, 96]);
    const s = q.tensors.get('blocks.1.mlp.fc1.weight.scale')!;
    expect([s.dtype, ...s.shape]).toEqual(['F16', 768, 6]);
    // 8-bit edges by default: patch embedding and head in Q8_PC
    expect(q.tensors.has('head.weight')).toBe(false);
    const h = q.tensors.get('head.weight.q')!;
    expect([h.dtype, ...h.shape]).toEqual(['I8', 1000, 192]);
    const pe = q.tensors.get('patch_embed.proj.weight.q')!;
    expect([pe.dtype, ...pe.shape]).toEqual(['I8', 192, 768]);
    const scheme = JSON.parse(q.metadata.scheme);
    expect(scheme).toMatchObject({ name: 'w4a8', weightBits: 4, actBits: 8, group: 32, clip: 'minmax', act: 'dynamic', edges: 'int8' });
    expect(scheme.layers).toHaveLength(8);
    expect(scheme.int8Layers).toEqual(['patch_embed.proj', 'head']);
    const fpEdges = quantizeModel(small, { scheme: 'w4a8', edges: 'fp32' });
    expect(fpEdges.tensors.get('head.weight')!.dtype).toBe('F32');
    expect(fpEdges.meta.scheme.int8Layers).toEqual([]);
    expect(quantizeModel(small, { scheme: 'w8a8' }).tensors.get('head.weight')!.dtype).toBe('F32'); // w8a8: fp32 edges
    const back = readModel(writeSafetensors(q.tensors, q.metadata));
    expect(back.meta.scheme.name).toBe('w4a8');
    const w = readQ4('blocks.1.mlp.fc1', back.tensors.get('blocks.1.mlp.fc1.weight.q')!, back.tensors.get('blocks.1.mlp.fc1.weight.scale')!);
    expect(w.G).toBe(32);
    const q8 = quantizeModel(small, { scheme: 'w8a8' }).tensors.get('blocks.0.attn.qkv.weight.q')!;
    expect([q8.dtype, ...q8.shape]).toEqual(['I8', 576, 192]);
  });

  it('file size at deit_tiny: w4a8 ≤ 0.16× fp32 with its default 8-bit edges, ≈ 0.20× with fp32 edges', () => {
    const tiny = model('deit_tiny_patch16_224');
    const size = (m: ModelFile) => writeSafetensors(m.tensors, m.metadata).byteLength;
    const f = size(tiny);
    const r = size(quantizeModel(tiny, { scheme: 'w4a8' })) / f;
    const rFp = size(quantizeModel(tiny, { scheme: 'w4a8', edges: 'fp32' })) / f;
    const r4 = size(quantizeModel(tiny, { scheme: 'w4a8', edges: 'int4' })) / f;
    const rOld = size(quantizeModel(tiny, { scheme: 'w4a8', head: true, patchEmbed: true })) / f;
    const r8 = size(quantizeModel(tiny, { scheme: 'w8a8' })) / f;
    expect(r).toBeLessThanOrEqual(0.16);
    expect(r).toBeGreaterThan(0.15); // the edges are 8-bit, not 4-bit
    expect(rFp).toBeGreaterThan(0.18);
    expect(rFp).toBeLessThan(0.21);
    expect(r4).toBeLessThan(r);
    expect(rOld).toBe(r4); // head/patchEmbed: true = the scheme's own bits
    expect(r8).toBeLessThan(0.33);
  });

  it('bad input: unknown scheme, group not dividing K, bad group, missing calibration → E_SCHEME', () => {
    expect(code(() => quantizeModel(small, { scheme: 'w3a9' }))).toMatch(/^E_SCHEME: unknown quantization scheme "w3a9": expected one of fp32, w8a8/);
    expect(code(() => quantizeModel(small, { scheme: 'w4a8', group: 128 }))).toMatch(/^E_SCHEME: int4 group 128 does not divide the input dimension K = 192 of blocks.0.attn.qkv.weight/);
    expect(code(() => quantizeModel(small, { scheme: 'w4a8', group: 48 }))).toMatch(/^E_SCHEME: int4 group size must be one of 32, 64, 128/);
    expect(code(() => quantizeModel(small, { scheme: 'w8a8', group: 32 }))).toMatch(/^E_SCHEME: --group applies to int4 schemes only/);
    expect(code(() => quantizeModel(small, { scheme: 'w8a8', calib: { scales: {} } }))).toMatch(/^E_SCHEME: calibration has no positive activation scale for blocks.0.attn.qkv/);
    expect(code(() => quantizeModel(quantizeModel(small, { scheme: 'w8a8' }), { scheme: 'w4a8' }))).toMatch(/^E_SCHEME: model is already quantized/);
    expect(code(() => simulateModel(small, { weightBits: 1, actBits: 8 }))).toMatch(/^E_SCHEME: simulated weight bits must be an integer 2..8/);
    expect(code(() => quantizeModel(small, { scheme: 'w8a8', edges: 'int4' }))).toMatch(/^E_SCHEME: edges 'int4' applies to the int4 schemes/);
    expect(code(() => quantizeModel(small, { scheme: 'w4a8', edges: 'int2' as never }))).toMatch(/^E_SCHEME: edges must be one of fp32, int8, int4, got "int2"/);
    expect(SCHEMES).toEqual(['fp32', 'w8a8', 'w4a8', 'w4a16', 'w4a4']);
  });
});
