// Cloudflare demo assets, run by `npm run build` after demos/browser/build.mjs: the demo model at w4a8 (int4 weights,
// the smallest scheme the engine runs at full speed) → dist/cloudflare/model.safetensors, imported by worker.js.

import { copyFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const manifest = JSON.parse(readFileSync(join(ROOT, 'dist', 'demo', 'manifest.json'), 'utf8'));
const dest = join(ROOT, 'dist', 'cloudflare', 'model.safetensors');
copyFileSync(join(ROOT, 'dist', 'demo', manifest.schemes.w4a8), dest);
const kib = (p) => (statSync(p).size / 1024).toFixed(0);
console.log(`cloudflare: ${manifest.model} w4a8 ${kib(dest)} KiB, index.js ${kib(join(ROOT, 'dist', 'cloudflare', 'index.js'))} KiB, ` +
  `relaxed wasm ${kib(join(ROOT, 'dist', 'cloudflare', 'vitguard.relaxed.wasm'))} KiB → dist/cloudflare/`);
