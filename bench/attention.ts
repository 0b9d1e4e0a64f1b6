// Attention micro-bench: f32 attention, int8 attention (assembly/attention_q8.ts) and the f32 GEMM at the same model's
// shapes, both builds, interleaved in one process (contestant A, B, C, A, B, C, ...) so a shared machine's noise falls
// on all alike; medians. Attention GOP/s counts the two matmuls only: 2·T·T·hd·2 per head (the softmax is extra work).
//
//   npm run bench:attention -- [--arch deit_tiny_patch16_224] [--rounds 30] [--clock cpu|wall] [--json]
//
// Clock: this process's CPU time by default (process.cpuUsage: what other processes on a shared machine get is left
// out), each sample ≥ 20 ms of repeated calls; --clock wall for performance.now().
//
// Runs under `node --experimental-wasm-relaxed-simd --no-liftoff` (the npm script) so that both builds load here.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { instantiate, relaxedSimdSupported, type WasmBuild, type WasmInstance } from '../sdk/engine/wasm.js';
import { configForArch } from '../sdk/model/arch.js';
import { numTokens } from '../sdk/format/model.js';
import { VitguardError } from '../sdk/errors.js';

type Fn = (...a: number[]) => number;
interface Contestant { name: string; build: WasmBuild; ops: number; run: () => void }

function parse(argv: string[]) {
  const o = { arch: 'deit_tiny_patch16_224', rounds: 30, json: false, clock: 'cpu' as 'cpu' | 'wall' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--arch') o.arch = argv[++i];
    else if (argv[i] === '--rounds') o.rounds = Number(argv[++i]);
    else if (argv[i] === '--json') o.json = true;
    else if (argv[i] === '--clock' && (argv[i + 1] === 'cpu' || argv[i + 1] === 'wall')) o.clock = argv[++i] as 'cpu' | 'wall';
    else throw new VitguardError('E_USAGE', `unknown option ${argv[i]}\nusage: bench:attention [--arch NAME] [--rounds N] [--clock cpu|wall] [--json]`);
  }
  configForArch(o.arch); // an unknown name fails here (E_UNKNOWN_ARCH)
  if (!(Number.isInteger(o.rounds) && o.rounds > 0)) throw new VitguardError('E_USAGE', '--rounds must be a positive integer');
  return o;
}

function fill(w: WasmInstance, n: number, seed: number, amp = 1): number {
  const p = w.heap.alloc(n * 4);
  const a = w.heap.f32(p, n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = amp * ((s / 2 ** 32) * 2 - 1); // uniform, never denormal
  }
  return p;
}

function contestants(build: WasmBuild, arch: string): Contestant[] {
  const path = fileURLToPath(new URL(`../../build/vitguard.${build}.wasm`, import.meta.url));
  const w = instantiate(new WebAssembly.Module(readFileSync(path)), build);
  const k = w.kernels as unknown as Record<string, Fn>;
  const c = configForArch(arch);
  const T = numTokens(c), D = c.dim, H = c.heads, hd = D / H, MLP = c.mlpHidden;
  const out: Contestant[] = [];
  // the f32 GEMM at the block's four shapes (what the attention is measured against)
  for (const [name, N, K] of [['qkv', 3 * D, D], ['proj', D, D], ['fc1', MLP, D], ['fc2', D, MLP]] as Array<[string, number, number]>) {
    const A = fill(w, T * K, 1), W = fill(w, N * K, 2), B = fill(w, N, 3);
    const P = w.heap.alloc(k.gemm_f32_packed_bytes(N, K));
    k.gemm_f32_pack(P, W, B, N, K);
    const O = w.heap.alloc(T * N * 4);
    out.push({ name: `gemm_f32 ${name} ${T}x${N}x${K}`, build, ops: 2 * T * N * K, run: () => k.gemm_f32(O, A, P, T, N, K, K, N) });
  }
  const qkv = fill(w, T * 3 * D, 4, 2); // ±2: scores of a few units, a softmax that is neither flat nor one-hot
  const att = w.heap.alloc(T * D * 4);
  const ops = 2 * T * T * hd * 2 * H;
  const S = w.heap.alloc(k.attention_scratch_bytes(T, D, H));
  out.push({ name: `attention f32 T=${T} D=${D} heads=${H}`, build, ops, run: () => k.attention(att, qkv, T, D, H, S, 0) });
  const S8 = w.heap.alloc(k.attention_q8_scratch_bytes(T, hd));
  out.push({ name: `attention int8 T=${T} D=${D} heads=${H}`, build, ops, run: () => k.attention_q8(att, qkv, T, D, H, S8, 0) });
  // int8 stages, one head (the quant and softmax stages are counted with the head's matmul ops, for the shares)
  const scale = Math.fround(1 / Math.sqrt(hd));
  const head = 2 * T * T * hd;
  out.push({ name: 'int8 stage quant (1 head)', build, ops: 0, run: () => k.attention_q8_quant(S8, qkv, T, D, H, 0) });
  out.push({ name: 'int8 stage qk (1 head)', build, ops: head, run: () => k.attention_q8_qk(S8, T, hd, scale) });
  // softmax overwrites S with p̂: re-run qk first and subtract its median (reported below as a difference)
  out.push({ name: 'int8 stage qk+softmax (1 head)', build, ops: 0, run: () => { k.attention_q8_qk(S8, T, hd, scale); k.attention_q8_softmax(S8, T, hd, 0); } });
  out.push({ name: 'int8 stage pv (1 head)', build, ops: head, run: () => k.attention_q8_pv(att, S8, T, D, H, 0) });
  // f32 stages, one head: S = q kᵀ (with k's transpose), softmax in place, out_h = P v
  const Sf = S, kT = S + T * T * 4; // kT: the pack scratch
  out.push({ name: 'f32 stage scores (1 head)', build, ops: head, run: () => k.attention_scores(Sf, qkv, kT, T, D, H, 0) });
  out.push({ name: 'f32 stage softmax (1 head)', build, ops: 0, run: () => k.attention_softmax(Sf, kT, T, scale) });
  out.push({ name: 'f32 stage pv (1 head)', build, ops: head, run: () => k.attention_pv(att, Sf, qkv, kT, T, D, H, 0) });
  return out;
}

function main(): void {
  const o = parse(process.argv.slice(2));
  const builds: WasmBuild[] = relaxedSimdSupported() ? ['simd', 'relaxed'] : ['simd'];
  const all = builds.flatMap((b) => contestants(b, o.arch));
  const times = all.map(() => [] as number[]);
  const now = o.clock === 'cpu' ? () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; } : () => performance.now();
  // each round: every contestant, each run repeated until ≥ 20 ms (per-call time = total / reps)
  const reps = all.map((c) => {
    let n = 1;
    for (;;) {
      const t0 = now();
      for (let i = 0; i < n; i++) c.run();
      if (now() - t0 > 20) return n;
      n *= 2;
    }
  });
  for (let r = 0; r < 3 + o.rounds; r++) {
    all.forEach((c, j) => {
      const t0 = now();
      for (let i = 0; i < reps[j]; i++) c.run();
      if (r >= 3) times[j].push((now() - t0) / reps[j]);
    });
  }
  const med = (t: number[]) => [...t].sort((a, b) => a - b)[t.length >> 1];
  const rows = all.map((c, j) => ({ name: c.name, build: c.build, ops: c.ops, ms: med(times[j]), gops: c.ops ? c.ops / med(times[j]) / 1e6 : null }));
  for (const b of builds) {
    const r = rows.filter((x) => x.build === b);
    const gemm = r.filter((x) => x.name.startsWith('gemm_f32'));
    const gemmGops = gemm.reduce((s, x) => s + x.ops, 0) / gemm.reduce((s, x) => s + x.ms, 0) / 1e6; // pooled: Σ ops / Σ time
    const f32 = r.find((x) => x.name.startsWith('attention f32'))!, q8 = r.find((x) => x.name.startsWith('attention int8'))!;
    const qk = r.find((x) => x.name === 'int8 stage qk (1 head)')!, qks = r.find((x) => x.name === 'int8 stage qk+softmax (1 head)')!;
    const summary = {
      summary: true, arch: o.arch, build: b, clock: o.clock, gemm_f32_gops: gemmGops,
      attention_f32_gops: f32.gops, attention_int8_gops: q8.gops,
      f32_vs_gemm: f32.gops! / gemmGops, int8_speedup_vs_f32: f32.ms / q8.ms,
      int8_softmax_ms_per_head: qks.ms - qk.ms,
    };
    if (o.json) {
      for (const x of r) console.log(JSON.stringify(x));
      console.log(JSON.stringify(summary));
    } else {
      console.log(`\n${o.arch}, ${b} build (medians of ${o.rounds} interleaved rounds, ${o.clock === 'cpu' ? 'CPU-time' : 'wall'} clock)`);
      for (const x of r) console.log(`  ${x.name.padEnd(44)} ${(x.ms * 1000).toFixed(1).padStart(8)} µs${x.gops ? `  ${x.gops.toFixed(1).padStart(6)} GOP/s` : ''}`);
      console.log(`  int8 softmax (qk+softmax − qk), 1 head       ${(summary.int8_softmax_ms_per_head * 1000).toFixed(1).padStart(8)} µs`);
      console.log(`  f32 GEMM (4 shapes pooled) ${gemmGops.toFixed(1)} GOP/s; f32 attention ${f32.gops!.toFixed(1)} GOP/s = ${(100 * summary.f32_vs_gemm).toFixed(0)} % of it; ` +
        `int8 attention ${q8.gops!.toFixed(1)} GOP/s = ${summary.int8_speedup_vs_f32.toFixed(2)}× the f32 attention`);
    }
  }
}

main();
