// bin/vitguard.js on a runtime without relaxed SIMD (Node 20): `--wasm relaxed` and `auto` work without V8 flags
// because the command relaunches itself once with --experimental-wasm-relaxed-simd --no-liftoff, keeping the
// original node options, and passes the exit code and signals through. Run as users run it: `node bin/vitguard.js`
// (the compiled CLI in lib/, which `npm ci` builds). A preload passed as a node option records every process the
// command starts (pid, execArgv, the relaunch marker), which also shows that the original options reach the child.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import { relaxedSimdSupported } from '../sdk/engine/wasm.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BIN = join(ROOT, 'bin', 'vitguard.js');
const MODEL = join(ROOT, 'models', 'fmnist-deit-w4a8.safetensors');
const IMAGE = join(ROOT, 'demos', 'samples', 'fmnist-Bag-18.png');
const native = relaxedSimdSupported(); // Node 21+: nothing to relaunch for
const dir = mkdtempSync(join(tmpdir(), 'vitguard-relaunch-'));
const PRELOAD = join(dir, 'record.mjs');
writeFileSync(PRELOAD, `import { appendFileSync } from 'node:fs';
appendFileSync(process.env.VG_RECORD, JSON.stringify({ pid: process.pid, execArgv: process.execArgv, mark: process.env.VITGUARD_RELAUNCHED ?? null }) + '\\n');
if (process.env.VG_HANG && process.env.VITGUARD_RELAUNCHED) setInterval(() => {}, 1000); // keep the child alive
`);

interface Rec { pid: number; execArgv: string[]; mark: string | null }
let n = 0;
function recordFile(): string { return join(dir, `rec-${n++}.jsonl`); }
function records(file: string): Rec[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
}
function env(file: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, VG_RECORD: file, ...extra };
  if (!('VITGUARD_RELAUNCHED' in extra)) delete e.VITGUARD_RELAUNCHED;
  delete e.NODE_OPTIONS;
  return e;
}
function vitguard(args: string[], extra: Record<string, string> = {}) {
  if (!existsSync(join(ROOT, 'lib', 'sdk', 'cli', 'main.js'))) throw new Error('lib/ is missing: run `npm run build:ts` (npm ci does)');
  const file = recordFile();
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(PRELOAD).href, BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: env(file, extra) });
  return { ...r, recs: records(file) };
}

describe('vitguard on a runtime without relaxed SIMD', () => {
  test.skipIf(native)('--wasm relaxed and auto run the relaxed build after one relaunch that keeps the node options', () => {
    const simd = vitguard(['classify', MODEL, IMAGE, '--json', '--wasm', 'simd']);
    expect(simd.status, simd.stderr).toBe(0);
    const want = JSON.parse(simd.stdout).results[0].top;
    for (const wasm of ['relaxed', 'auto']) {
      const r = vitguard(['classify', MODEL, IMAGE, '--json', '--wasm', wasm]);
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.wasm).toBe('relaxed');
      expect(out.results[0].top[0].label).toBe('Bag');
      // int8 GEMMs are bit-exact between the builds; the f32 parts may round differently with relaxed_madd
      out.results[0].top.forEach((t: { label: string; prob: number }, i: number) => {
        expect(t.label).toBe(want[i].label);
        expect(Math.abs(t.prob - want[i].prob)).toBeLessThan(1e-4);
      });
      expect(r.recs).toHaveLength(2);
      const [parent, child] = r.recs;
      expect(parent.mark).toBeNull();
      expect(child.mark).toBe('1');
      expect(child.execArgv.slice(0, 2)).toEqual(['--experimental-wasm-relaxed-simd', '--no-liftoff']);
      expect(child.execArgv).toContain(pathToFileURL(PRELOAD).href); // the original --import came along
    }
  });

  test.skipIf(native)('the marker stops a second relaunch: a marked process without the flag refuses relaxed with E_WASM', () => {
    const r = vitguard(['classify', MODEL, IMAGE, '--wasm', 'relaxed'], { VITGUARD_RELAUNCHED: '1' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\[E_WASM\].*relaxed/);
    expect(r.recs).toHaveLength(1);
  });

  test('--wasm simd starts no second process', () => {
    const r = vitguard(['classify', MODEL, IMAGE, '--json', '--wasm', 'simd']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).wasm).toBe('simd');
    expect(r.recs).toHaveLength(1);
  });

  test.skipIf(native)("the child's exit code and error output come through once", () => {
    const r = vitguard(['classify', join(dir, 'missing.safetensors'), IMAGE]);
    expect(r.status).toBe(1);
    expect(r.stderr.match(/^vitguard: /gm)).toHaveLength(1);
    expect(r.recs).toHaveLength(2);
    const usage = vitguard([]);
    expect(usage.status).toBe(1); // `vitguard` alone prints usage and exits 1
    expect(usage.stdout).toMatch(/^usage: vitguard/);
  });

  test.skipIf(native)('SIGTERM to the command ends the relaunched child, and the command dies of the same signal', async () => {
    const file = recordFile();
    const proc = spawn(process.execPath, ['--import', pathToFileURL(PRELOAD).href, BIN, '--help'], { cwd: ROOT, env: env(file, { VG_HANG: '1' }), stdio: 'ignore' });
    const deadline = Date.now() + 15_000;
    while (records(file).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const child = records(file).find((x) => x.mark === '1');
    expect(child, 'the relaunched child started').toBeDefined();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.on('exit', (code, signal) => r({ code, signal })));
    proc.kill('SIGTERM');
    expect(await exited).toEqual({ code: null, signal: 'SIGTERM' });
    const alive = () => { try { process.kill(child!.pid, 0); return true; } catch { return false; } };
    const gone = Date.now() + 5_000;
    while (alive() && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  });

  test.runIf(native)('where relaxed SIMD is native, --wasm relaxed runs in the one process', () => {
    const r = vitguard(['classify', MODEL, IMAGE, '--json', '--wasm', 'relaxed']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).wasm).toBe('relaxed');
    expect(r.recs).toHaveLength(1);
  });
});

