// Bundles of the public API (sdk/index.ts), built from the tsc output in lib/ (`npm run build` runs build:wasm and
// build:ts first), so rollup needs no TypeScript plugin:
//
//   dist/browser/     index.js (ESM) + shared chunks + worker.js (the Web Worker entry, a module worker, built
//                     self-contained) + vitguard.simd.wasm + vitguard.relaxed.wasm as emitted assets. The wasm is
//                     fetched at run time from the bundle's own folder, or from `wasmBase` (a CDN): never inlined.
//                     The bundle names its assets only as literal `new URL('./<file>', import.meta.url)`, the form
//                     bundlers (Vite, webpack, rollup, esbuild plugins) follow and emit: an app that imports the
//                     package gets the worker and both wasm files in its own build without copying anything. The
//                     worker is one file because those bundlers copy it as an asset, without following its imports.
//   dist/node/        index.js + worker.js (worker_threads entry); dependencies stay external (package.json deps).
//   dist/cloudflare/  index.js: in-thread only, the relaxed and simd binaries imported as wasm modules (workerd
//                     refuses WebAssembly.compile on bytes), ready for wrangler / miniflare's CompiledWasm rule.

import { readFileSync } from 'node:fs';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import commonjs from '@rollup/plugin-commonjs';

const WASM = ['simd', 'relaxed'].map((build) => ({ build, fileName: `vitguard.${build}.wasm`, path: `build/vitguard.${build}.wasm` }));
/** The threaded twins (threads: N), for browsers only: Cloudflare Workers have no threads. */
const WASM_MT = ['simd-mt', 'relaxed-mt'].map((build) => ({ build, fileName: `vitguard.${build}.wasm`, path: `build/vitguard.${build}.wasm` }));

/**
 * The worker entry is referenced as `new URL('./entry.<platform>.js', import.meta.url)` (spawn.ts). Node: emit it as
 * its own chunk (worker.js) and point the URL there. Browser: point both literals at './worker.js', which the worker
 * config below builds as one self-contained file, and replace BUNDLED_WASM (index.ts) with literal URLs of the two
 * wasm binaries emitted next to the bundle.
 */
function vitguardAssets({ platform }) {
  const browser = platform === 'browser';
  const literal = (entry) => `new URL('./${entry}', import.meta.url)`;
  const wasmUrls = `{ simd: new URL('./vitguard.simd.wasm', import.meta.url), relaxed: new URL('./vitguard.relaxed.wasm', import.meta.url), 'simd-mt': new URL('./vitguard.simd-mt.wasm', import.meta.url), 'relaxed-mt': new URL('./vitguard.relaxed-mt.wasm', import.meta.url) }`;
  return {
    name: 'vitguard-assets',
    buildStart() {
      if (browser) for (const w of [...WASM, ...WASM_MT]) this.emitFile({ type: 'asset', fileName: w.fileName, source: readFileSync(w.path) });
    },
    transform(code) {
      let out = code;
      if (browser) {
        for (const e of ['entry.browser.js', 'entry.node.js']) out = out.replace(literal(e), literal('worker.js'));
        out = out.replace('/*@vitguard-wasm-urls*/ undefined', wasmUrls);
      } else if (out.includes(literal('entry.node.js'))) {
        const ref = this.emitFile({ type: 'chunk', id: 'lib/sdk/worker/entry.node.js', fileName: 'worker.js' });
        out = out.replace(literal('entry.node.js'), `new URL(import.meta.ROLLUP_FILE_URL_${ref})`);
      }
      return out === code ? null : { code: out, map: null };
    },
  };
}

/** Cloudflare Workers have no workers of their own: the pool module becomes one that says so. */
function noWorkerPool() {
  const stub = '\0vitguard-no-pool';
  return {
    name: 'vitguard-no-pool',
    resolveId(source, importer) {
      if (source === './worker/pool.js' && importer?.endsWith('/sdk/index.js')) return stub;
      return null;
    },
    load(id) {
      if (id !== stub) return null;
      const errors = JSON.stringify(new URL('./lib/sdk/errors.js', import.meta.url).pathname);
      return `import { VitguardError } from ${errors};
export class WorkerPool {
  static async create() { throw new VitguardError('E_WORKER', 'Cloudflare Workers have no worker threads: create the classifier with worker: false'); }
}`;
    },
  };
}

/** The Cloudflare entry: the public API with the imported wasm modules as its default source, and no workers. */
function cloudflareEntry() {
  const id = '\0vitguard-cloudflare';
  const api = new URL('./lib/sdk/index.js', import.meta.url).pathname;
  return {
    name: 'vitguard-cloudflare-entry',
    resolveId(source) {
      if (source === 'vitguard:cloudflare') return id;
      if (/^\.\/vitguard\.(simd|relaxed)\.wasm$/.test(source)) return { id: source, external: true };
      return null;
    },
    load(x) {
      if (x !== id) return null;
      return `import simd from './vitguard.simd.wasm';
import relaxed from './vitguard.relaxed.wasm';
import { createClassifier as create } from ${JSON.stringify(api)};
import { EDGE_IMAGE_LIMITS, decodeImage as decode, planDecode as plan } from ${JSON.stringify(api)};
export * from ${JSON.stringify(api)};
// A 128 MB isolate: image limits default to EDGE_IMAGE_LIMITS here (an option the caller passes still wins).
const edge = (o) => ({ ...o, maxPixels: o?.maxPixels ?? EDGE_IMAGE_LIMITS.maxPixels, maxDecodeBytes: o?.maxDecodeBytes ?? EDGE_IMAGE_LIMITS.maxDecodeBytes });
/** createClassifier for Workers: in-thread, edge image limits, and the bundled wasm modules unless a wasmSource is given. */
export function createClassifier(opts) {
  if (opts && opts.worker) return create(opts); // fails with E_WORKER: there are no workers here
  return create({ wasm: 'auto', ...edge(opts), worker: false, wasmSource: opts?.wasmSource ?? { simd, relaxed } });
}
export function decodeImage(bytes, opts) { return decode(bytes, edge(opts)); }
export function planDecode(bytes, opts) { return plan(bytes, edge(opts)); }`;
    },
    buildStart() {
      for (const w of WASM) this.emitFile({ type: 'asset', fileName: w.fileName, source: readFileSync(w.path) });
    },
  };
}

/**
 * Workers reject a bundle that imports node: builtins (without nodejs_compat), even dynamically, and browser bundlers
 * warn about each one. Those imports sit in Node-only branches (file reading, worker_threads) that never run there:
 * make them plain rejections.
 */
export function noNodeBuiltins() {
  return {
    name: 'vitguard-no-node-builtins',
    renderChunk(code) {
      const out = code.replace(/import\((['"])node:([a-z_/]+)\1\)/g, (_, q, m) => `Promise.reject(new Error('node:${m} is not available in this runtime'))`);
      return out === code ? null : { code: out, map: null };
    },
  };
}

export const onwarn = (w, warn) => {
  // the Node-only branches import node: builtins dynamically; they stay external and never run in a browser
  if (w.code === 'UNRESOLVED_IMPORT' && String(w.exporter ?? w.source ?? '').startsWith('node:')) return;
  if (w.code === 'CIRCULAR_DEPENDENCY') return;
  warn(w);
};
const nodeBuiltin = (id) => id.startsWith('node:');

export default [
  {
    input: { index: 'lib/sdk/index.js' },
    external: nodeBuiltin,
    plugins: [vitguardAssets({ platform: 'browser' }), nodeResolve({ browser: true, preferBuiltins: false }), commonjs(), noNodeBuiltins()],
    output: { dir: 'dist/browser', format: 'es', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js', sourcemap: false },
    onwarn,
  },
  {
    input: { worker: 'lib/sdk/worker/entry.browser.js' },
    external: nodeBuiltin,
    plugins: [nodeResolve({ browser: true, preferBuiltins: false }), commonjs(), noNodeBuiltins()],
    output: { dir: 'dist/browser', format: 'es', entryFileNames: '[name].js', inlineDynamicImports: true, sourcemap: false },
    onwarn,
  },
  {
    input: { index: 'lib/sdk/index.js' },
    external: (id) => nodeBuiltin(id) || /^[a-z@][^:]*$/i.test(id) && !id.startsWith('/'),
    plugins: [vitguardAssets({ platform: 'node' })],
    output: { dir: 'dist/node', format: 'es', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js' },
    onwarn,
  },
  {
    input: { index: 'vitguard:cloudflare' },
    external: nodeBuiltin,
    plugins: [cloudflareEntry(), noWorkerPool(), nodeResolve({ browser: true, preferBuiltins: false }), commonjs(), noNodeBuiltins()],
    output: { dir: 'dist/cloudflare', format: 'es', entryFileNames: '[name].js', inlineDynamicImports: true },
    onwarn,
  },
];
