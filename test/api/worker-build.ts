// Worker entry for the API tests. vitest runs the SDK from its TypeScript sources, which Node 20 cannot load in a
// worker_threads Worker. Once per test file, every sdk/**/*.ts is transpiled (types stripped, nothing bundled, the
// project's own TypeScript) into .cache/api-worker/<pid>/sdk/, inside the repository so bare imports (comlink,
// fast-png) resolve from node_modules; workers then start from plain JS in ~0.2 s instead of transpiling per worker.
// The built package needs none of this: lib/ and dist/ ship the entry as JS.

import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll } from 'vitest';
import { WASM_BASE } from './fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function* tsFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* tsFiles(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) yield p;
  }
}

/** Transpile sdk/ to a scratch folder; returns the worker entry's URL and a cleanup function. */
export function buildWorkerEntry(): { url: URL; cleanup: () => void } {
  const out = join(ROOT, '.cache', 'api-worker', String(process.pid));
  rmSync(out, { recursive: true, force: true });
  for (const file of tsFiles(join(ROOT, 'sdk'))) {
    const js = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText;
    const dest = join(out, relative(ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, js);
  }
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  return { url: pathToFileURL(join(out, 'sdk', 'worker', 'entry.node.js')), cleanup: () => rmSync(out, { recursive: true, force: true }) };
}

/** Worker-mode options for one test file's tests: the entry is built before they run and removed after. */
export function workerMode(): { worker: true; workerUrl: URL; wasmBase: URL } {
  const opts = { worker: true as const, workerUrl: new URL('about:blank'), wasmBase: WASM_BASE };
  let cleanup = () => {};
  beforeAll(() => {
    const b = buildWorkerEntry();
    opts.workerUrl = b.url;
    cleanup = b.cleanup;
  });
  afterAll(() => cleanup());
  return opts;
}
