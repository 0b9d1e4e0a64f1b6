// Builds the integer kernels (assembly/quant.ts, gemm_q8.ts, gemm_q4.ts) on their own, for both targets, so these
// tests do not depend on the rest of assembly/ or on a stale build/. Cached in the OS temp dir by source hash.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../..');
const SOURCES = ['assembly/quant.ts', 'assembly/gemm_q8.ts', 'assembly/gemm_q4.ts'];

/** Path of the kernel-only wasm for `target` (built if missing). */
export function buildQuantWasm(target: 'simd' | 'relaxed'): string {
  const h = createHash('sha256');
  for (const s of SOURCES) h.update(readFileSync(join(ROOT, s)));
  h.update(readFileSync(join(ROOT, 'asconfig.json')));
  const dir = join(tmpdir(), 'vitguard-quant-wasm');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `quant.${target}.${h.digest('hex').slice(0, 16)}.wasm`);
  if (!existsSync(out)) {
    const tmp = `${out}.${process.pid}.tmp.wasm`;
    execFileSync(process.execPath, [join(ROOT, 'node_modules/assemblyscript/bin/asc.js'), ...SOURCES, '--config', 'asconfig.json', '--target', target, '-o', tmp], { cwd: ROOT, stdio: 'pipe' });
    execFileSync('mv', [tmp, out]);
  }
  return out;
}
