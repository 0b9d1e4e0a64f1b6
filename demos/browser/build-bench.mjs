// The on-device bench page's code (demos/browser/bench.js → dist/bench/bench.js), run by `npm run build` and
// `npm run bench:browser` after tsc has written lib/. One file, bundled from lib/ (bench/measure.ts, the engine, the
// quantizer, the ONNX graph builder and onnx-proto), with vitguard's wasm binaries (build/: simd, relaxed and, where built, their threaded -mt twins) copied beside it.
// onnxruntime-web stays outside the bundle: the page imports its wasm-only ES build from node_modules, which the demo
// server serves (serve.mjs), and that build finds its own .mjs/.wasm next to itself.
//   node demos/browser/build-bench.mjs

import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rollup } from 'rollup';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import commonjs from '@rollup/plugin-commonjs';
import { noNodeBuiltins, onwarn } from '../../rollup.config.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = join(ROOT, 'dist', 'bench');
/** Where the page finds onnxruntime-web, relative to dist/bench/bench.js. */
export const ORT_MODULE = '../../node_modules/onnxruntime-web/dist/ort.wasm.min.mjs';

export async function buildBench() {
  for (const f of ['lib/bench/measure.js', 'build/vitguard.simd.wasm', 'build/vitguard.relaxed.wasm']) {
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run \`npm run build:wasm && npm run build:ts\` first`);
  }
  const bundle = await rollup({
    input: join(ROOT, 'demos/browser/bench.js'),
    external: (id) => id === 'onnxruntime-web' || id.startsWith('node:'),
    plugins: [nodeResolve({ browser: true, preferBuiltins: false }), commonjs(), noNodeBuiltins()],
    onwarn: (w, warn) => {
      if (w.code === 'EVAL' && /protobufjs|@protobufjs/.test(w.id ?? '')) return; // protobufjs' optional-require probe
      onwarn(w, warn);
    },
  });
  await bundle.write({
    file: join(OUT, 'bench.js'), format: 'es', inlineDynamicImports: true, sourcemap: false,
    paths: { 'onnxruntime-web': ORT_MODULE },
  });
  await bundle.close();
  mkdirSync(OUT, { recursive: true });
  // the threaded binaries (threads > 1 in a cross-origin-isolated page) where this checkout builds them
  for (const b of ['simd', 'relaxed', 'simd-mt', 'relaxed-mt']) {
    if (existsSync(join(ROOT, `build/vitguard.${b}.wasm`))) copyFileSync(join(ROOT, `build/vitguard.${b}.wasm`), join(OUT, `vitguard.${b}.wasm`));
  }
  return OUT;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = Date.now();
  const out = await buildBench();
  console.log(`bench page: ${out}/bench.js in ${Date.now() - t0} ms (open /demos/browser/bench.html on \`npm run demo\`)`);
}
