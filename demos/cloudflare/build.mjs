// Cloudflare demo assets, run by `npm run build` after demos/browser/build.mjs: the demo model at w4a8 (int4 weights,
// the smallest scheme the engine runs at full speed) → dist/cloudflare/model.safetensors, imported by worker.js.
// `--scheme S` (or VITGUARD_CF_SCHEME=S) ships another of the demo's schemes instead, e.g. the outlier-aware w4a4-oa
// (same size as w4a8, int4 activations, the plan in its metadata):
//   node demos/cloudflare/build.mjs --scheme w4a4-oa

import { copyFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const manifest = JSON.parse(readFileSync(join(ROOT, 'dist', 'demo', 'manifest.json'), 'utf8'));
const dest = join(ROOT, 'dist', 'cloudflare', 'model.safetensors');
const flag = process.argv.indexOf('--scheme');
const scheme = (flag > 0 ? process.argv[flag + 1] : undefined) ?? process.env.VITGUARD_CF_SCHEME ?? 'w4a8';
if (!manifest.schemes[scheme]) {
  console.error(`cloudflare: no ${scheme} model in dist/demo (the demo has ${Object.keys(manifest.schemes).join(', ')})`);
  process.exit(2);
}
copyFileSync(join(ROOT, 'dist', 'demo', manifest.schemes[scheme]), dest);
const kib = (p) => (statSync(p).size / 1024).toFixed(0);
console.log(`cloudflare: ${manifest.model} ${scheme} ${kib(dest)} KiB, index.js ${kib(join(ROOT, 'dist', 'cloudflare', 'index.js'))} KiB, ` +
  `relaxed wasm ${kib(join(ROOT, 'dist', 'cloudflare', 'vitguard.relaxed.wasm'))} KiB → dist/cloudflare/`);
