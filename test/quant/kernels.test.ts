// Integer kernels: fast == `_ref` bit for bit (every case in kernels.ts throws otherwise), simd build == relaxed build
// bit for bit (relaxed runs in a child with --experimental-wasm-relaxed-simd --no-liftoff), and the `_ref` twins
// == an independent JS computation of the documented formulas (Math.fround in the same order, so exact).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { quantizeQ4, quantizeQ8, q4Value, roundEven } from '../../sdk/quant/formats.js';
import { caseQ4, caseQ8, caseW4A16, Kernels, randomActs, randomBias, randomWeights, runBattery } from './kernels.js';
import { buildQuantWasm, ROOT } from './wasm.js';

const f = Math.fround;
let simdFile = '';
let relaxedFile = '';
let k: Kernels;

beforeAll(() => {
  simdFile = buildQuantWasm('simd');
  relaxedFile = buildQuantWasm('relaxed');
  k = new Kernels(new Uint8Array(readFileSync(simdFile)));
});

/** JS per-row quantization, the documented formula: s = maxabs/qmax (f32), q = clamp(rne(x/s)). */
function jsQuantRows(x: Float32Array, M: number, K: number, qmax: number): { q: Int8Array; s: Float32Array } {
  const q = new Int8Array(M * K);
  const s = new Float32Array(M);
  for (let m = 0; m < M; m++) {
    let mx = 0;
    for (let j = 0; j < K; j++) mx = Math.max(mx, Math.abs(x[m * K + j]));
    const sc = mx > 0 ? f(mx / qmax) : 1;
    s[m] = sc;
    for (let j = 0; j < K; j++) q[m * K + j] = Math.min(qmax, Math.max(-qmax, roundEven(f(x[m * K + j] / sc))));
  }
  return { q, s };
}

describe('integer kernels (simd build, in process)', () => {
  it('every case of the battery: fast kernels equal their _ref twins bit for bit', () => {
    const d = runBattery(k);
    expect(Object.keys(d).length).toBeGreaterThan(80);
  });

  it('gemm_q8 matches the w8a8 formula computed in JS exactly', () => {
    const [M, N, K] = [5, 9, 33];
    const out = caseQ8(k, M, N, K, 7);
    const x = randomActs(M, K, 7);
    const w = quantizeQ8(randomWeights(N, K, 8), N, K);
    const b = randomBias(N, 9);
    const a = jsQuantRows(x, M, K, 127);
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let j = 0; j < K; j++) acc += a.q[m * K + j] * w.q[n * K + j];
      expect(out[m * N + n]).toBe(f(f(f(acc * w.scale[n]) * a.s[m]) + b[n]));
    }
  });

  it('gemm_q4 (w4a8 and w4a4) matches the per-group formula in JS exactly', () => {
    for (const [qmax, G] of [[127, 32], [7, 64]]) {
      const [M, N, K] = [3, 6, 128];
      const out = caseQ4(k, M, N, K, G, 11, qmax);
      const x = randomActs(M, K, 11);
      const w = quantizeQ4(randomWeights(N, K, 12), N, K, G);
      const b = randomBias(N, 13);
      const a = jsQuantRows(x, M, K, qmax);
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
        let y = 0;
        for (let g = 0; g < K / G; g++) {
          let acc = 0;
          for (let j = g * G; j < (g + 1) * G; j++) acc += a.q[m * K + j] * q4Value(w, n, j);
          y = f(y + f(acc * w.scale[n * (K / G) + g]));
        }
        expect(out[m * N + n]).toBe(f(f(y * a.s[m]) + b[n]));
      }
    }
  });

  it('gemm_w4a16 matches dequantized weights in JS exactly (4 lane sums by k mod 4, hsum4 order)', () => {
    const [M, N, K, G] = [6, 5, 64, 32];
    const out = caseW4A16(k, M, N, K, G, 21);
    const x = randomActs(M, K, 21);
    const w = quantizeQ4(randomWeights(N, K, 22), N, K, G);
    const b = randomBias(N, 23);
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
      const acc = [0, 0, 0, 0];
      for (let j = 0; j < K; j++) {
        const wj = f(q4Value(w, n, j) * w.scale[n * (K / G) + Math.floor(j / G)]);
        acc[j & 3] = f(acc[j & 3] + f(x[m * K + j] * wj));
      }
      expect(out[m * N + n]).toBe(f(f(f(acc[0] + acc[2]) + f(acc[1] + acc[3])) + b[n]));
    }
  });

  it('gemm_w4a16 is close to the f32 product with the dequantized weights (relative error < 1e-5)', () => {
    const [M, N, K, G] = [9, 13, 768, 64];
    const out = caseW4A16(k, M, N, K, G, 41);
    const x = randomActs(M, K, 41);
    const w = quantizeQ4(randomWeights(N, K, 42), N, K, G);
    const b = randomBias(N, 43);
    let num = 0, den = 0;
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
      let y = b[n];
      for (let j = 0; j < K; j++) y += x[m * K + j] * q4Value(w, n, j) * w.scale[n * (K / G) + Math.floor(j / G)];
      num += (out[m * N + n] - y) ** 2;
      den += y ** 2;
    }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-5);
  });

  it('w8a8 output is close to the f32 product (relative error < 4 % with 20× outliers in 1 % of activations)', () => {
    const [M, N, K] = [17, 31, 192];
    const out = caseQ8(k, M, N, K, 31);
    const x = randomActs(M, K, 31);
    const w = randomWeights(N, K, 32);
    const b = randomBias(N, 33);
    let num = 0, den = 0;
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
      let y = b[n];
      for (let j = 0; j < K; j++) y += x[m * K + j] * w[n * K + j];
      num += (out[m * N + n] - y) ** 2;
      den += y ** 2;
    }
    expect(Math.sqrt(num / den)).toBeLessThan(0.04);
  });

  it('static activation scale: values beyond it saturate at ±qmax', () => {
    k.reset();
    const x = new Float32Array([0.5, -3, 1, 10]);
    const px = k.put(x), pq = k.alloc(8), ps = k.alloc(4);
    k.ex.quantize_act_rows(px, 1, 4, 127, 0.02, pq, 1, 4, ps, 0, 0);
    expect(Array.from(k.i8(pq, 4))).toEqual([25, -127, 50, 127]);
    expect(k.f32(ps, 1)[0]).toBe(f(0.02));
  });
});

describe('relaxed build (child process, --experimental-wasm-relaxed-simd --no-liftoff)', () => {
  it('gives the same bits as the simd build on every case', () => {
    const run = (file: string) => JSON.parse(execFileSync(process.execPath, [
      '--experimental-wasm-relaxed-simd', '--no-liftoff', '--import', './test/parity/ts-register.mjs', 'test/quant/kernel-child.ts', file, 'relaxed',
    ], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 })) as { digests: Record<string, string> };
    const relaxed = run(relaxedFile).digests;
    const simd = runBattery(k);
    expect(Object.keys(relaxed).length).toBe(Object.keys(simd).length);
    expect(relaxed).toEqual(simd);
  });
});
