// Whole-forward medians of deit_tiny (random weights) per scheme and int4Memory mode, interleaved in one process,
// plus the 12 attention calls alone. Not a test. Run:
//   node --no-liftoff --import ./test/parity/ts-register.mjs test/quant/forward-bench.ts simd [runs]
//   node --experimental-wasm-relaxed-simd --no-liftoff --import ./test/parity/ts-register.mjs test/quant/forward-bench.ts relaxed [runs]
import { Engine } from '../../sdk/engine/index.js';
import { encodeMeta, readModel, type ModelMeta } from '../../sdk/format/model.js';
import { writeSafetensors } from '../../sdk/format/safetensors.js';
import { configForArch, defaultPreprocessing } from '../../sdk/model/arch.js';
import { gaussian, mulberry32, randomCheckpoint } from '../../sdk/model/random.js';
import { quantizeModel } from '../../sdk/quant/index.js';
const build = (process.argv[2] ?? 'simd') as 'simd' | 'relaxed';
const config = configForArch('deit_tiny_patch16_224');
const meta: ModelMeta = { arch: 'deit_tiny_patch16_224', config, labels: Array.from({ length: 1000 }, (_, i) => `c${i}`), preprocessing: defaultPreprocessing('deit_tiny_patch16_224'), scheme: { name: 'fp32' }, extra: {} };
const fp32 = readModel(writeSafetensors(randomCheckpoint(config, 3), encodeMeta(meta)));
const randn = gaussian(mulberry32(4));
const px = Float32Array.from({ length: 3 * 224 * 224 }, () => randn());
const engines: Record<string, Engine> = {
  fp32: await Engine.create(fp32, { wasm: build }),
  w8a8: await Engine.create(quantizeModel(fp32, { scheme: 'w8a8' }), { wasm: build }),
  w4a8_fast: await Engine.create(quantizeModel(fp32, { scheme: 'w4a8' }), { wasm: build, int4Memory: 'fast' }),
  w4a8_compact: await Engine.create(quantizeModel(fp32, { scheme: 'w4a8' }), { wasm: build, int4Memory: 'compact' }),
};
// OLD_WASM=path: one more w8a8 engine on another build of the kernels (e.g. before a change), for same-process ratios
import { readFileSync } from 'node:fs';
if (process.env.OLD_WASM) {
  engines.w8a8_old = await Engine.create(quantizeModel(fp32, { scheme: 'w8a8' }), { wasm: build, wasmSource: { [build]: new Uint8Array(readFileSync(process.env.OLD_WASM)) } });
}
const t: Record<string, number[]> = {};
for (const k in engines) t[k] = [];
for (let i = 0; i < 10; i++) for (const k in engines) engines[k].forward(px);
for (let i = 0; i < Number(process.argv[3] ?? 20); i++) for (const k in engines) { const t0 = performance.now(); engines[k].forward(px); t[k].push(performance.now() - t0); }
// attention alone at deit_tiny shapes, in the fp32 engine's instance
const st = (engines.fp32 as any).state;
const kk = st.inst.kernels, a = st.arena;
const ta: number[] = [];
for (let i = 0; i < 30; i++) { const t0 = performance.now(); for (let l = 0; l < 12; l++) kk.attention(a.att, a.qkv, 197, 192, 3, a.scratch, 0); ta.push(performance.now() - t0); }
const med = (x: number[]) => x.slice().sort((p, q) => p - q)[x.length >> 1];
let attOld = 0;
if (engines.w8a8_old) {
  const so = (engines.w8a8_old as any).state;
  const to: number[] = [];
  for (let i = 0; i < 30; i++) { const t0 = performance.now(); for (let l = 0; l < 12; l++) so.inst.kernels.attention(so.arena.att, so.arena.qkv, 197, 192, 3, so.arena.scratch, 0); to.push(performance.now() - t0); }
  attOld = +med(to).toFixed(1);
}
console.log(JSON.stringify({ build, ...(attOld ? { attention_12_layers_old: attOld } : {}), ...Object.fromEntries(Object.entries(t).map(([k, v]) => [k, +med(v).toFixed(1)])), attention_12_layers: +med(ta).toFixed(1) }));
