// Run by ceiling.test.ts in a child `node --experimental-wasm-relaxed-simd --no-liftoff` (Node 20 needs the flag for
// the relaxed build; V8 11.3's baseline compiler gets the relaxed dot wrong until tier-up, FACTS.md). Calls every
// ceiling_* export of both builds on the cases given as JSON in argv[2] and prints
// { simd: { accumulators, relaxed, values: { fn: [result per case] } }, relaxed: { ... } }.
import { readFileSync } from 'node:fs';

const cases = JSON.parse(process.argv[2]);
const out = {};
for (const build of ['simd', 'relaxed']) {
  const bytes = readFileSync(new URL(`../../build/vitguard.${build}.wasm`, import.meta.url));
  const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { abort() { throw new Error('abort'); } } }).exports;
  const values = {};
  for (const [fn, list] of Object.entries(cases)) values[fn] = list.map(([iters, arg]) => k[fn](iters, arg));
  out[build] = { accumulators: k.ceiling_accumulators(), relaxed: k.has_relaxed_simd(), values };
}
process.stdout.write(JSON.stringify(out));
