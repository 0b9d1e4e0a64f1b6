// The ONNX oracle checked against the float64 JS reference on tiny configs of each family, so that the parity
// test's "truth" is itself tested. Tolerance: max |Δ| ≤ 1e-4 · max |value| (f32 graph vs f64 reference).

import { afterAll, describe, expect, it } from 'vitest';
import type { ViTConfig } from '../../sdk/format/model.js';
import { randomCheckpoint, mulberry32, gaussian } from '../../sdk/model/random.js';
import { buildVitOnnx, quantizeInt4Blocks, quantizeInt8Columns, transpose } from './onnx-vit.js';
import { erf, linear, referenceForward, type LinearFn } from './js-reference.js';
import { createOrtSession, type OrtVitSession } from './ort.js';
import { maxAbs } from '../kernels/helpers.js';

const FAMILIES = ['vit', 'deit-distilled', 'deit3', 'vit-reg', 'reg-gap', 'gap-norm'] as const;

function tiny(family: (typeof FAMILIES)[number]): ViTConfig {
  const base: ViTConfig = {
    imgSize: 16, patch: 4, inChans: 3, dim: 32, depth: 2, heads: 4, mlpHidden: 64, numClasses: 7,
    distilled: family === 'deit-distilled', layerScale: family === 'deit3', noEmbedClass: family === 'deit3',
    eps: family === 'vit' ? 1e-6 : 1e-5,
  };
  // registers with position embeddings and a class-token head; timm's reg4_gap (no class token, registers without
  // position embedding, mean of the patches then fc_norm); a class token unused by an avg head normed before pooling
  if (family === 'vit-reg') return { ...base, regTokens: 2 };
  if (family === 'reg-gap') return { ...base, regTokens: 4, classToken: false, noEmbedClass: true, layerScale: true, globalPool: 'avg', fcNorm: true };
  if (family === 'gap-norm') return { ...base, globalPool: 'avg', fcNorm: false };
  return base;
}

function randomPixels(n: number, seed: number): Float32Array {
  const r = gaussian(mulberry32(seed));
  return Float32Array.from({ length: n }, () => r());
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Round half to even, as ONNX's DynamicQuantizeLinear and QuantizeLinear do. */
function roundEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The int8 graph's linear, simulated: uint8 asymmetric per-tensor activations, int8 per-column weights. */
const int8Linear: LinearFn = (_prefix, x, W, b, out, inp) => {
  let lo = 0;
  let hi = 0;
  for (const row of x) for (const v of row) { lo = Math.min(lo, Math.fround(v)); hi = Math.max(hi, Math.fround(v)); }
  const xs = Math.fround((hi - lo) / 255);
  const zp = Math.max(0, Math.min(255, roundEven(-lo / xs)));
  const { q, scale } = quantizeInt8Columns(transpose(Float32Array.from(W), out, inp), inp, out, false);
  return x.map((row) => {
    const xq = row.map((v) => Math.max(0, Math.min(255, roundEven(Math.fround(v) / xs) + zp)) - zp);
    const y = new Float64Array(out);
    for (let o = 0; o < out; o++) {
      let acc = 0;
      for (let i = 0; i < inp; i++) acc += xq[i] * q[i * out + o];
      y[o] = acc * Math.fround(xs * scale[o]) + b[o];
    }
    return y;
  });
};

/** The int4 graph's linear, simulated: block-16 symmetric int4 weights dequantized, f32 activations. */
const int4Linear: LinearFn = (_prefix, x, W, b, out, inp) => {
  const block = 16;
  const { packed, scales } = quantizeInt4Blocks(Float32Array.from(W), out, inp, block);
  const Wd = new Float64Array(out * inp);
  for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) {
    const blk = o * (inp / block) + Math.floor(i / block);
    const byte = packed[blk * (block / 2) + ((i % block) >> 1)];
    Wd[o * inp + i] = ((i & 1 ? byte >> 4 : byte & 15) - 8) * scales[blk];
  }
  return linear(x, Wd, b, out, inp);
};

const sessions: OrtVitSession[] = [];
afterAll(async () => { for (const s of sessions) await s.release(); });

describe('js reference helpers', () => {
  it('erf matches known values to 1e-13', () => {
    const known: Array<[number, number]> = [
      [0, 0], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149],
      [2, 0.9953222650189527], [2.5, 0.9995930479825550], [3, 0.9999779095030014], [-1.5, -0.9661051464753108],
    ];
    for (const [x, want] of known) expect(Math.abs(erf(x) - want)).toBeLessThan(1e-13);
  });
});

describe.each(FAMILIES)('onnx oracle, %s', (family) => {
  const config = tiny(family);
  const tensors = randomCheckpoint(config, 11);
  const B = 2;
  const chw = config.inChans * config.imgSize * config.imgSize;
  const pixels = randomPixels(B * chw, 5);
  const refs = [0, 1].map((b) => referenceForward(tensors, config, pixels.subarray(b * chw, (b + 1) * chw)));

  it('fp32 graph agrees with the float64 reference (1e-4 relative), batch 2', async () => {
    const s = await createOrtSession(buildVitOnnx(tensors, config), [config.inChans, config.imgSize, config.imgSize]);
    sessions.push(s);
    const out = await s.run(pixels, B);
    expect(out.logits.length).toBe(B * config.numClasses);
    expect(out.feature.length).toBe(B * config.dim);
    for (let b = 0; b < B; b++) {
      const L = out.logits.subarray(b * config.numClasses, (b + 1) * config.numClasses);
      const F = out.feature.subarray(b * config.dim, (b + 1) * config.dim);
      expect(maxAbs(refs[b].logits)).toBeGreaterThan(0.1); // a degenerate model would make the check vacuous
      expect(maxDiff(L, refs[b].logits)).toBeLessThanOrEqual(1e-4 * maxAbs(refs[b].logits));
      expect(maxDiff(F, refs[b].feature)).toBeLessThanOrEqual(1e-4 * maxAbs(refs[b].feature));
    }
    // the two images differ, so the outputs must too (catches a batch broadcast bug)
    expect(maxDiff(out.logits.subarray(0, config.numClasses), out.logits.subarray(config.numClasses))).toBeGreaterThan(1e-3);
  });

  it('int8 (MatMulInteger) and int4 (MatMulNBits) graphs agree with a simulation of their quantization', async () => {
    const img = pixels.subarray(0, chw);
    for (const [scheme, sim, tol] of [['int8', int8Linear, 5e-4], ['int4', int4Linear, 1e-4]] as const) {
      const s = await createOrtSession(buildVitOnnx(tensors, config, { scheme, int4Block: 16 }), [config.inChans, config.imgSize, config.imgSize]);
      sessions.push(s);
      const out = await s.run(img, 1);
      const want = referenceForward(tensors, config, img, sim);
      const scale = maxAbs(want.logits);
      const dSim = maxDiff(out.logits, want.logits);
      const dFp32 = maxDiff(out.logits, refs[0].logits);
      console.log(`${family} ${scheme}: vs simulation ${(dSim / scale).toExponential(2)}, vs fp32 ${(dFp32 / scale).toExponential(2)}`);
      expect(dSim).toBeLessThanOrEqual(tol * scale);
      expect(dFp32).toBeGreaterThan(10 * dSim); // the quantization is really there, and the simulation models it
    }
  });
});

describe('weight quantizers of the oracle', () => {
  it('int8 per-column round-trip error ≤ half a step, int4 block round-trip ≤ half a step', () => {
    const r = gaussian(mulberry32(3));
    const n = 6, k = 16;
    const W = Float32Array.from({ length: n * k }, () => r());
    const wt = transpose(W, n, k);
    const { q, scale } = quantizeInt8Columns(wt, k, n, false);
    for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) {
      expect(Math.abs(q[i * n + j] * scale[j] - wt[i * n + j])).toBeLessThanOrEqual(scale[j] / 2 + 1e-7);
    }
    const { packed, scales } = quantizeInt4Blocks(W, n, k, 8);
    for (let row = 0; row < n; row++) for (let j = 0; j < k; j++) {
      const byte = packed[(row * 2 + (j >> 3)) * 4 + ((j & 7) >> 1)];
      const nib = (j & 1 ? byte >> 4 : byte & 15) - 8;
      const s = scales[row * 2 + (j >> 3)];
      expect(Math.abs(nib * s - W[row * k + j])).toBeLessThanOrEqual(s / 2 + 1e-7);
    }
  });
});
