// Child process of the parity test: runs the engine on the parity models with one wasm build and prints
// {"<arch>": {"logits": [...], "feature": [...]}} as one JSON line. Started as
//   node --experimental-wasm-relaxed-simd --no-liftoff --import ./test/parity/ts-register.mjs test/parity/engine-child.ts relaxed
// (Node 20 has relaxed SIMD only behind that flag, and its Liftoff tier miscomputes relaxed dot products: FACTS.md).

import { readModel } from '../../sdk/format/model.js';
import { Engine } from '../../sdk/engine/index.js';
import { PARITY_ARCHS, parityModel } from './models.js';

const wasm = (process.argv[2] ?? 'relaxed') as 'simd' | 'relaxed';
const out: Record<string, { logits: number[]; feature: number[] }> = {};
for (const arch of PARITY_ARCHS) {
  const m = parityModel(arch);
  const engine = await Engine.create(readModel(m.file), { wasm });
  const r = engine.forward(m.pixels);
  out[arch] = { logits: Array.from(r.logits), feature: Array.from(r.feature) };
  engine.dispose();
}
process.stdout.write(JSON.stringify(out) + '\n');
