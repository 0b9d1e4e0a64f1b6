// The integer GEMMs of one linear layer (activation quantization included, as the engine runs them) at a ViT's
// linear shapes (M = 197 tokens; qkv, proj, fc1, fc2), contestants interleaved round-robin in one process so that
// their ratios survive a noisy machine. Not a test. Run:
//   node --no-liftoff --import ./test/parity/ts-register.mjs test/quant/bench.ts simd [reps] [tiny|small|base] [G]
//   node --experimental-wasm-relaxed-simd --no-liftoff --import ./test/parity/ts-register.mjs test/quant/bench.ts relaxed ...
// tiny = deit_tiny (D = 192), small = deit_small (384), base = vit_base (768); G = int4 group (32).
// Prints one JSON line per layer (median ms per contestant, GOP/s, ratio to w8a8) and one for the 12 blocks' linear
// layers (Σ 12 × medians, and the same from 10th percentiles and minima: on a busy machine the least disturbed ratios).
// GOP/s counts 2 ops per multiply-add (as FACTS.md does).
// Contestants: w8a8 (quantize_act_rows i16 + gemm_q8), w4a8_fast (i16 + gemm_q4i16, int4Memory 'fast'),
// w4a8_compact (this build's activations, + group sums where q4_act_sums() says, + gemm_q4, int4Memory 'compact');
// W4A16=1 adds gemm_w4a16.
// WASM=<file>: run another build of the kernels (e.g. one made from an older commit) instead of the current sources.

import { readFileSync } from 'node:fs';
import { quantizeQ4, quantizeQ8 } from '../../sdk/quant/formats.js';
import { Kernels, randomActs, randomBias, randomWeights, VIT_SHAPES } from './kernels.js';
import { buildQuantWasm } from './wasm.js';

const target = (process.argv[2] ?? 'simd') as 'simd' | 'relaxed';
const reps = Number(process.argv[3] ?? 30);
const arch = process.argv[4] ?? 'tiny';
const dim = ({ tiny: 192, small: 384, base: 768 } as Record<string, number>)[arch] ?? 192;
const G = Number(process.argv[5] ?? 32);
const SHAPES: Array<[number, number, string]> = VIT_SHAPES.map(([K, N, name]) => [(K / 192) * dim, (N / 192) * dim, name]);
const k = new Kernels(new Uint8Array(readFileSync(process.env.WASM ?? buildQuantWasm(target))));
const ex = k.ex;
const M = 197;

// Clock: this process's CPU time by default (process.cpuUsage; the time other processes on a shared machine take is
// left out), CLOCK=wall for performance.now().
const clock = process.env.CLOCK === 'wall' ? 'wall' : 'cpu';
const now = clock === 'cpu' ? () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; } : () => performance.now();
const median = (t: number[]) => t.slice().sort((a, b) => a - b)[t.length >> 1];
const p10 = (t: number[]) => t.slice().sort((a, b) => a - b)[Math.floor(t.length / 10)];
const least = (t: number[]) => Math.min(...t);

const forward: Record<string, number> = {};
const forward10: Record<string, number> = {}; // Σ 10th percentiles and Σ minima: the ratios least disturbed by
const forwardMin: Record<string, number> = {}; // other processes on a busy machine
for (const [K, N, name] of SHAPES) {
  k.reset();
  const x = k.put(randomActs(M, K, 1));
  const w = randomWeights(N, K, 2);
  const q8 = quantizeQ8(w, N, K), q4 = quantizeQ4(w, N, K, G);
  const b = k.put(randomBias(N, 3));
  const p8 = k.alloc(ex.gemm_q8_packed_bytes(N, K));
  ex.gemm_q8_pack(k.put(q8.q), k.put(q8.scale), b, N, K, p8);
  const q4q = k.put(q4.q), q4s = k.put(q4.scale);
  const p4 = k.alloc(ex.gemm_q4_packed_bytes(N, K, G));
  ex.gemm_q4_pack(q4q, q4s, b, N, K, G, ex.q4_int_layout(), p4);
  const pi16 = k.alloc(ex.gemm_q4i16_packed_bytes(N, K, G));
  ex.gemm_q4i16_pack(q4q, q4s, b, N, K, G, pi16);
  const pf = k.alloc(ex.gemm_q4_packed_bytes(N, K, G));
  ex.gemm_q4_pack(q4q, q4s, b, N, K, G, ex.Q4_LAYOUT_F.value as number, pf);
  const a16 = k.alloc(ex.gemm_q8_act_bytes(M, K)), sa = k.alloc(4 * M);
  const a4 = k.alloc(ex.gemm_q4_act_bytes(M, K, G)), sums = a4 + M * K * ex.q4_act_elem_bytes();
  const out = k.alloc(4 * M * N);
  const panel = k.alloc(ex.gemm_w4a16_panel_bytes(K)), p4panel = k.alloc(ex.gemm_q4_panel_bytes?.(K, G) ?? 0); // ?.: builds before the panel scratch (WASM=)
  const withSums = (ex.q4_act_sums?.() ?? 1) === 1; // as the SDK: group sums only where gemm_q4 reads them
  const c: Record<string, () => void> = {
    w8a8: () => { ex.quantize_act_rows(x, M, K, 127, 0, a16, 2, ex.q8_kpad(K), sa, 0, 0); ex.gemm_q8(a16, sa, p8, out, M, N, K); },
    w4a8_fast: () => { ex.quantize_act_rows(x, M, K, 127, 0, a16, 2, K, sa, 0, 0); ex.gemm_q4i16(a16, sa, pi16, out, M, N, K, G); },
    w4a8_compact: () => { ex.quantize_act_rows(x, M, K, 127, 0, a4, ex.q4_act_elem_bytes(), K, sa, withSums ? sums : 0, withSums ? G : 0); ex.gemm_q4(a4, sa, sums, p4, out, M, N, K, G, p4panel); },
  };
  if (process.env.W4A16) c.w4a16 = () => ex.gemm_w4a16(x, pf, out, M, N, K, G, panel);
  const names = Object.keys(c);
  const t: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < 8; i++) for (const n of names) c[n]();
  for (let i = 0; i < reps; i++) {
    for (const n of names) { const t0 = now(); c[n](); t[n].push(now() - t0); }
  }
  const ops = 2 * M * N * K;
  const row: Record<string, unknown> = { wasm: target, arch, layer: name, M, K, N, G, clock };
  const m8 = median(t.w8a8);
  for (const n of names) {
    const m = median(t[n]);
    forward[n] = (forward[n] ?? 0) + 12 * m;
    forward10[n] = (forward10[n] ?? 0) + 12 * p10(t[n]);
    forwardMin[n] = (forwardMin[n] ?? 0) + 12 * least(t[n]);
    row[`${n}_ms`] = +m.toFixed(3);
    row[`${n}_gops`] = +(ops / m / 1e6).toFixed(1);
    if (n !== 'w8a8') row[`${n}/w8a8`] = +(m / m8).toFixed(3);
  }
  console.log(JSON.stringify(row));
}
const ratios = (f: Record<string, number>) => ({
  ...Object.fromEntries(Object.keys(f).filter((n) => n !== 'w8a8').map((n) => [`${n}/w8a8`, +(f[n] / f.w8a8).toFixed(3)])),
  'compact/fast': +(f.w4a8_compact / f.w4a8_fast).toFixed(3),
});
const ms = (f: Record<string, number>) => Object.fromEntries(Object.entries(f).map(([s, v]) => [s, +v.toFixed(1)]));
console.log(JSON.stringify({ wasm: target, arch, G, reps, clock, forward_linear_ms: ms(forward), ...ratios(forward), p10: { forward_linear_ms: ms(forward10), ...ratios(forward10) },
  min: { forward_linear_ms: ms(forwardMin), ...ratios(forwardMin) } }));
