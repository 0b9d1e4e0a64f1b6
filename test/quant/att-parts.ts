// The attention kernel of deit_tiny (T = 197, D = 192, 3 heads, 12 layers) on two kernel binaries, interleaved in one
// process (same-process ratio), plus softmax alone. Not a test. Run:
//   node --no-liftoff --import ./test/parity/ts-register.mjs test/quant/att-parts.ts simd OTHER.wasm
import { readFileSync } from 'node:fs';
const build = process.argv[2] ?? 'simd';
const files = [`build/vitguard.${build}.wasm`, ...(process.argv[3] ? [process.argv[3]] : [])];
const T = 197, D = 192;
const qkv = 1 << 20, out = qkv + T * 3 * D * 4 + 4096, scratch = out + T * D * 4 + 4096;
const ks = files.map((file) => {
  const inst = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), { env: { abort: () => { throw new Error('abort'); } } } as any);
  const k = inst.exports as any;
  (k.memory as WebAssembly.Memory).grow(200);
  const f = new Float32Array(k.memory.buffer, qkv, T * 3 * D);
  for (let i = 0; i < f.length; i++) f[i] = Math.sin(i * 0.37) * 2;
  return k;
});
const t: number[][] = ks.map(() => []);
const sm: number[] = [];
for (let r = 0; r < 60; r++) {
  ks.forEach((k, i) => { const t0 = performance.now(); for (let l = 0; l < 12; l++) k.attention(out, qkv, T, D, 3, scratch, 0); t[i].push(performance.now() - t0); });
  const t0 = performance.now(); for (let l = 0; l < 36; l++) ks[0].softmax_rows(scratch, T, T, 0.125); sm.push(performance.now() - t0);
}
const med = (x: number[]) => +x.slice(10).sort((a, b) => a - b)[25].toFixed(2);
const same = ks.length > 1 ? new Float32Array(ks[0].memory.buffer, out, T * D).every((v, i) => Math.abs(v - new Float32Array(ks[1].memory.buffer, out, T * D)[i]) <= 1e-4 * (1 + Math.abs(v))) : null;
console.log(JSON.stringify({ build, attention_ms: t.map(med), softmax_ms: med(sm), gflops_matmuls: t.map((x) => +(12 * 3 * 2 * 2 * T * T * 64 / med(x) / 1e6).toFixed(1)), agree_1e4: same }));
