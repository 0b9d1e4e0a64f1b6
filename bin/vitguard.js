#!/usr/bin/env node
// The `vitguard` command. The CLI is TypeScript compiled to lib/ by `npm run build:ts` (run by `npm ci`).
//
// Node 20 has relaxed SIMD only behind a V8 flag, which NODE_OPTIONS refuses, so where this runtime does not
// validate relaxed SIMD the command relaunches itself once: the same node with `--experimental-wasm-relaxed-simd
// --no-liftoff` (V8 11.3's baseline compiler, Liftoff, miscomputes the relaxed int8 dot product until a function
// tiers up), then the original node options, script and arguments; stdio is shared, the exit code and signals are
// passed through. VITGUARD_RELAUNCHED marks the child, so it never relaunches again. `--wasm simd` needs no relaunch.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { relaxedSimdSupported } from '../lib/sdk/engine/wasm.js';

const RELAUNCH_FLAGS = ['--experimental-wasm-relaxed-simd', '--no-liftoff'];
const MARK = 'VITGUARD_RELAUNCHED';
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

const args = process.argv.slice(2);

function wantsOnlySimd(argv) {
  const i = argv.indexOf('--wasm');
  return (i >= 0 && argv[i + 1] === 'simd') || argv.includes('--wasm=simd');
}

function needsRelaunch() {
  if (process.env[MARK]) return false;
  if (typeof WebAssembly === 'undefined' || relaxedSimdSupported()) return false;
  return !wantsOnlySimd(args);
}

function relaunch() {
  const script = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [...RELAUNCH_FLAGS, ...process.execArgv, script, ...args], {
    stdio: 'inherit',
    env: { ...process.env, [MARK]: '1' },
  });
  // A terminal's Ctrl-C reaches the whole process group (the child too); a signal sent to this pid alone reaches
  // only us: pass it on either way, and let the child's exit decide ours.
  const forward = (signal) => { if (child.exitCode === null && child.signalCode === null) child.kill(signal); };
  for (const s of FORWARDED_SIGNALS) process.on(s, forward);
  child.on('error', (err) => {
    console.error(`vitguard: could not relaunch node with ${RELAUNCH_FLAGS.join(' ')} (${err.message}); use --wasm simd`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    for (const s of FORWARDED_SIGNALS) process.off(s, forward);
    if (signal) process.kill(process.pid, signal); // die of the same signal, so our parent sees what happened
    else process.exit(code ?? 1);
  });
}

async function run() {
  const { main } = await import('../lib/sdk/cli/main.js');
  try {
    process.exitCode = await main(args);
  } catch (err) {
    console.error(`vitguard: ${err && err.code ? `[${err.code}] ` : ''}${err && err.message ? err.message : err}`);
    process.exitCode = 1;
  }
}

if (needsRelaunch()) relaunch();
else await run();
