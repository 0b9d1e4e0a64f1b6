// Whole-forward medians (random weights, batch 1, one thread) of w8a8 and w4a8 in both int4Memory modes, interleaved
// in one process, with their ratios (the issue-10 targets: w4a8 within 5 % of w8a8, compact within 1.25× of fast).
// Not a test. Run:
//   node --no-liftoff --import ./test/parity/ts-register.mjs test/quant/forward-bench.ts simd [runs] [arch]
//   node --experimental-wasm-relaxed-simd --no-liftoff --import ./test/parity/ts-register.mjs test/quant/forward-bench.ts relaxed [runs] [arch]
// arch: deit_tiny_patch16_224 (default), deit_small_patch16_224, vit_base_patch16_224. Besides medians it prints the
// ratios of the 10th percentiles and of the minima, the ones other processes on a busy machine disturb least.
// FP32=1 adds the fp32 engine.
import { Engine } from '../../sdk/engine/index.js';
import { encodeMeta, readModel, type ModelMeta } from '../../sdk/format/model.js';
import { writeSafetensors } from '../../sdk/format/safetensors.js';
import { configForArch, defaultPreprocessing } from '../../sdk/model/arch.js';
import { gaussian, mulberry32, randomCheckpoint } from '../../sdk/model/random.js';
import { quantizeModel } from '../../sdk/quant/index.js';

const build = (process.argv[2] ?? 'simd') as 'simd' | 'relaxed';
const runs = Number(process.argv[3] ?? 20);
const arch = process.argv[4] ?? 'deit_tiny_patch16_224';
const config = configForArch(arch);
const meta: ModelMeta = { arch, config, labels: Array.from({ length: 1000 }, (_, i) => `c${i}`), preprocessing: defaultPreprocessing(arch), scheme: { name: 'fp32' }, extra: {} };
const fp32 = readModel(writeSafetensors(randomCheckpoint(config, 3), encodeMeta(meta)));
const randn = gaussian(mulberry32(4));
const px = Float32Array.from({ length: 3 * config.imgSize * config.imgSize }, () => randn());
const w4a8 = quantizeModel(fp32, { scheme: 'w4a8' });
const engines: Record<string, Engine> = {
  ...(process.env.FP32 ? { fp32: await Engine.create(fp32, { wasm: build }) } : {}),
  w8a8: await Engine.create(quantizeModel(fp32, { scheme: 'w8a8' }), { wasm: build }),
  w4a8_fast: await Engine.create(w4a8, { wasm: build, int4Memory: 'fast' }),
  w4a8_compact: await Engine.create(w4a8, { wasm: build, int4Memory: 'compact' }),
};
// Clock: this process's CPU time by default (process.cpuUsage; the time other processes take is left out), CLOCK=wall
// for performance.now().
const clock = process.env.CLOCK === 'wall' ? 'wall' : 'cpu';
const now = clock === 'cpu' ? () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; } : () => performance.now();
const t: Record<string, number[]> = {};
for (const k in engines) t[k] = [];
for (let i = 0; i < 10; i++) for (const k in engines) engines[k].forward(px);
for (let i = 0; i < runs; i++) for (const k in engines) { const t0 = now(); engines[k].forward(px); t[k].push(now() - t0); }
const q = (x: number[], p: number) => x.slice().sort((a, b) => a - b)[Math.floor((x.length - 1) * p)];
const stat = (p: number) => {
  const ms = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, +q(v, p).toFixed(1)]));
  return { ms, 'fast/w8a8': +(ms.w4a8_fast / ms.w8a8).toFixed(3), 'compact/w8a8': +(ms.w4a8_compact / ms.w8a8).toFixed(3), 'compact/fast': +(ms.w4a8_compact / ms.w4a8_fast).toFixed(3) };
};
const memory = Object.fromEntries(Object.entries(engines).map(([k, e]) => [k, e.memoryBytes()]));
console.log(JSON.stringify({ build, arch, runs, clock, median: stat(0.5), p10: stat(0.1), min: stat(0), memory_bytes: memory }));
