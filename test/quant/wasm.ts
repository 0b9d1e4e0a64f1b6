// Builds the integer kernels (assembly/quant.ts, gemm_q8.ts, gemm_q4.ts) on their own, for both targets, so these
// tests do not depend on the rest of assembly/ or on a stale build/. Cached in the OS temp dir by source hash.
// asconfig.json's `entries` (assembly/index.ts, the whole kernel set) are left out: a config copy without them is
// written next to the cache, so another kernel file that does not compile cannot fail these tests.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../..');
const SOURCES = ['assembly/quant.ts', 'assembly/gemm_q8.ts', 'assembly/gemm_q4.ts'];
/** What SOURCES import (hashed with them). */
const IMPORTS = ['assembly/gemm_f32.ts', 'assembly/memory.ts'];

/** Path of the kernel-only wasm for `target` (built if missing). */
export function buildQuantWasm(target: 'simd' | 'relaxed'): string {
  const h = createHash('sha256');
  for (const s of [...SOURCES, ...IMPORTS]) h.update(readFileSync(join(ROOT, s)));
  const config = JSON.parse(readFileSync(join(ROOT, 'asconfig.json'), 'utf8')) as Record<string, unknown>;
  delete config.entries;
  const configText = JSON.stringify(config);
  h.update(configText);
  const dir = join(tmpdir(), 'vitguard-quant-wasm');
  mkdirSync(dir, { recursive: true });
  const hash = h.digest('hex').slice(0, 16);
  const out = join(dir, `quant.${target}.${hash}.wasm`);
  if (!existsSync(out)) {
    const tmp = `${out}.${process.pid}.tmp.wasm`;
    const configFile = join(dir, `asconfig.${hash}.${process.pid}.json`);
    writeFileSync(configFile, configText);
    execFileSync(process.execPath, [join(ROOT, 'node_modules/assemblyscript/bin/asc.js'), ...SOURCES, '--config', configFile, '--target', target, '-o', tmp], { cwd: ROOT, stdio: 'pipe' });
    rmSync(configFile);
    execFileSync('mv', [tmp, out]);
  }
  return out;
}
