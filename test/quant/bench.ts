// GOP/s of the integer GEMMs at deit_tiny's linear shapes (M = 197), and the linear-layer time of one forward
// (12 blocks × qkv, proj, fc1, fc2, activation quantization included). Not a test. Run:
//   node --no-liftoff --import ./test/parity/ts-register.mjs test/quant/bench.ts simd
//   node --experimental-wasm-relaxed-simd --no-liftoff --import ./test/parity/ts-register.mjs test/quant/bench.ts relaxed
// GOP/s counts 2 ops per multiply-add (as FACTS.md does: 1.05 G multiply-adds at ~68 GOP/s ≈ 31 ms).

import { readFileSync } from 'node:fs';
import { quantizeQ4, quantizeQ8 } from '../../sdk/quant/formats.js';
import { Kernels, randomActs, randomBias, randomWeights, VIT_SHAPES } from './kernels.js';
import { buildQuantWasm } from './wasm.js';

const target = (process.argv[2] ?? 'simd') as 'simd' | 'relaxed';
const reps = Number(process.argv[3] ?? 30);
const k = new Kernels(new Uint8Array(readFileSync(buildQuantWasm(target))));
const ex = k.ex;
const M = 197, G = 32;

function median(f: () => void): number {
  for (let i = 0; i < 10; i++) f();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) { const t0 = performance.now(); f(); t.push(performance.now() - t0); }
  t.sort((a, b) => a - b);
  return t[t.length >> 1];
}

const rows: Array<Record<string, unknown>> = [];
const forward: Record<string, number> = { w8a8: 0, w4a8: 0, w4a8_i16: 0, w4a16: 0 };
for (const [K, N, name] of VIT_SHAPES) {
  k.reset();
  const x = k.put(randomActs(M, K, 1));
  const w = randomWeights(N, K, 2);
  const q8 = quantizeQ8(w, N, K), q4 = quantizeQ4(w, N, K, G);
  const b = k.put(randomBias(N, 3));
  const p8 = k.alloc(ex.gemm_q8_packed_bytes(N, K));
  ex.gemm_q8_pack(k.put(q8.q), k.put(q8.scale), b, N, K, p8);
  const p4 = k.alloc(ex.gemm_q4_packed_bytes(N, K, G));
  const q4q = k.put(q4.q), q4s = k.put(q4.scale);
  ex.gemm_q4_pack(q4q, q4s, b, N, K, G, ex.q4_int_layout(), p4);
  const pi16 = k.alloc(ex.gemm_q4i16_packed_bytes(N, K, G));
  ex.gemm_q4i16_pack(q4q, q4s, b, N, K, G, pi16);
  const pf = k.alloc(ex.gemm_q4_packed_bytes(N, K, G));
  ex.gemm_q4_pack(q4q, q4s, b, N, K, G, ex.Q4_LAYOUT_F.value as number, pf);
  const a16 = k.alloc(ex.gemm_q8_act_bytes(M, K)), sa = k.alloc(4 * M);
  const a4 = k.alloc(ex.gemm_q4_act_bytes(M, K, G)), sums = a4 + M * K * ex.q4_act_elem_bytes();
  const out = k.alloc(4 * M * N);
  const panel = k.alloc(ex.gemm_w4a16_panel_bytes(K));
  const ops = 2 * M * N * K;
  const tq8 = median(() => ex.quantize_act_rows(x, M, K, 127, 0, a16, 2, ex.q8_kpad(K), sa, 0, 0));
  const tq4 = median(() => ex.quantize_act_rows(x, M, K, 127, 0, a4, ex.q4_act_elem_bytes(), K, sa, sums, G));
  const t8 = median(() => ex.gemm_q8(a16, sa, p8, out, M, N, K));
  const t4 = median(() => ex.gemm_q4(a4, sa, sums, p4, out, M, N, K, G));
  const tq16 = median(() => ex.quantize_act_rows(x, M, K, 127, 0, a16, 2, K, sa, 0, 0));
  const ti16 = median(() => ex.gemm_q4i16(a16, sa, pi16, out, M, N, K, G));
  const t16 = median(() => ex.gemm_w4a16(x, pf, out, M, N, K, G, panel));
  forward.w8a8 += 12 * (t8 + tq8);
  forward.w4a8 += 12 * (t4 + tq4);
  forward.w4a8_i16 += 12 * (ti16 + tq16);
  forward.w4a16 += 12 * t16;
  rows.push({ layer: name, M, K, N, w8a8_gops: +(ops / t8 / 1e6).toFixed(1), w4a8_gops: +(ops / t4 / 1e6).toFixed(1),
    w4a8_i16_gops: +(ops / ti16 / 1e6).toFixed(1),
    w4a16_gflops: +(ops / t16 / 1e6).toFixed(1), quant_ms: +tq8.toFixed(3) });
}
for (const r of rows) console.log(JSON.stringify({ wasm: target, ...r }));
console.log(JSON.stringify({ wasm: target, forward_linear_ms: Object.fromEntries(Object.entries(forward).map(([s, v]) => [s, +v.toFixed(1)])) }));
