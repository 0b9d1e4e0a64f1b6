// Run by builds.test.ts in a child `node --experimental-wasm-relaxed-simd --no-liftoff` (Node 20 needs the flag to
// run relaxed SIMD; --no-liftoff avoids V8 11.3's baseline-compiler relaxed-SIMD bugs). Runs every kernel of the
// simd and relaxed builds on the same seeded inputs and prints one JSON object: { kernel: max |simd − relaxed| / scale }.
import { readFileSync } from 'node:fs';

const load = (b) => new WebAssembly.Instance(new WebAssembly.Module(readFileSync(new URL(`../../build/vitguard.${b}.wasm`, import.meta.url))), {}).exports;
const builds = { simd: load('simd'), relaxed: load('relaxed') };
if (builds.relaxed.has_relaxed_simd() !== 1 || builds.simd.has_relaxed_simd() !== 0) throw new Error('build flags wrong');

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 * 2 - 1;
  };
}

// Each case allocates the same buffers in both instances, fills inputs, runs, and returns the output floats.
function run(k, inputs, outLen, call) {
  let top = (k.heap_base() + 63) & ~63;
  const alloc = (n) => {
    const p = top;
    top = (top + n * 4 + 63 + 16) & ~63;
    if (top > k.memory.buffer.byteLength) k.memory.grow(Math.ceil((top - k.memory.buffer.byteLength) / 65536));
    return p;
  };
  const ptrs = inputs.map((a) => alloc(a.length));
  const out = alloc(outLen);
  inputs.forEach((a, i) => new Float32Array(k.memory.buffer, ptrs[i], a.length).set(a));
  const extra = call(k, out, ...ptrs, alloc);
  return new Float32Array(k.memory.buffer, extra ?? out, outLen).slice();
}

function rand(n, seed, scale = 1) {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => scale * r());
}

function compare(name, inputs, outLen, call) {
  const a = run(builds.simd, inputs, outLen, call);
  const b = run(builds.relaxed, inputs, outLen, call);
  let d = 0, m = 1e-30;
  for (let i = 0; i < outLen; i++) {
    const x = Math.abs(a[i] - b[i]);
    d = Number.isNaN(x) ? Infinity : Math.max(d, x);
    m = Math.max(m, Math.abs(a[i]));
  }
  results[name] = d / Math.max(1, m);
}

const results = {};
for (const [M, N, K] of [[1, 1, 1], [3, 7, 15], [17, 33, 31], [129, 127, 16], [197, 576, 192], [197, 192, 768]]) {
  compare(`gemm_f32 ${M}x${N}x${K}`, [rand(M * K, M), rand(N * K, N), rand(N, K)], M * N, (k, out, A, W, B, alloc) => {
    const P = alloc(k.gemm_f32_packed_bytes(N, K) / 4);
    k.gemm_f32_pack(P, W, B, N, K);
    k.gemm_f32(out, A, P, M, N, K, K, N);
  });
  compare(`gemm_f32_nt ${M}x${N}x${K}`, [rand(M * K, M + 1), rand(N * K, N + 1)], M * N, (k, out, A, B) => k.gemm_f32_nt(out, A, B, M, N, K, K, K, N));
}
for (const [T, D, H] of [[7, 48, 3], [33, 48, 3], [197, 192, 3]]) {
  compare(`attention T=${T} D=${D}`, [rand(T * 3 * D, T, 2)], T * D, (k, out, Q, alloc) => {
    const S = alloc(k.attention_scratch_bytes(T, D, H) / 4);
    k.attention(out, Q, T, D, H, S, 0);
  });
}
// int8 attention: integer products and the same f32 operations on both builds, so exactly equal (builds.test.ts)
for (const [T, D, H] of [[5, 48, 2], [50, 96, 4], [197, 192, 3], [197, 384, 6]]) {
  compare(`attention_q8 T=${T} D=${D} heads=${H}`, [rand(T * 3 * D, T + D, 3)], T * D, (k, out, Q, alloc) => {
    const S = alloc(k.attention_q8_scratch_bytes(T, D / H) / 4);
    k.attention_q8(out, Q, T, D, H, S, 0);
  });
}
for (const n of [1, 7, 17, 129, 197 * 768]) {
  compare(`gelu ${n}`, [rand(n, n, 6)], n, (k, out, X) => k.gelu(out, X, n));
  compare(`softmax_rows ${n}`, [rand(n, n, 10)], n, (k, out, X) => { k.softmax_rows(X, 1, n, 0.5); return X; });
}
for (const D of [1, 17, 192]) {
  compare(`layernorm D=${D}`, [rand(3 * D, D, 3), rand(D, D + 1), rand(D, D + 2)], 3 * D, (k, out, X, G, B) => k.layernorm(out, X, G, B, 3, D, 1e-6));
  compare(`residual_add D=${D}`, [rand(3 * D, D), rand(3 * D, D + 1), rand(D, D + 2)], 3 * D, (k, out, X, F, G) => { k.residual_add(X, F, G, 3, D); return X; });
  compare(`token_l2_norms D=${D}`, [rand(3 * D, D)], 3, (k, out, X) => k.token_l2_norms(out, X, 3, D));
}
process.stdout.write(JSON.stringify(results) + '\n');
