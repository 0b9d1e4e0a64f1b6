// Latency of vitguard against onnxruntime-web (wasm backend), same random weights, 1 thread, interleaved in one
// process after warm-up. The relaxed-SIMD build runs in a child Node process (flags below) that times its own
// onnxruntime-web baseline, so every ratio comes from one process.
//
//   npm run bench -- --arch deit_tiny_patch16_224 --scheme fp32,w8a8,w4a8,w4a16 --wasm simd,relaxed --runs 30 --json
//
// Output (--json): one line per engine × scheme × wasm
//   {"engine":"vitguard"|"ort","arch","scheme","wasm","group","threads":1,"median_ms","p90_ms","runs","model_bytes",
//    "load_ms","logit_rel_err"}
// where group is the process the line was measured in (simd: this one; relaxed: the child), ort's wasm is always
// "simd" (its npm build has no relaxed SIMD), and logit_rel_err = max|Δlogit| / max|logit| against ort fp32.
// Then one summary line per run: {"summary":true,"arch",..,"groups":{"simd":{"vitguard_fp32/ort_fp32":..}},"size":{..}}.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { VitguardError } from '../sdk/errors.js';
import { benchModel, runGroup as measureGroup, summarize as summarizeLines, type OnnxLinearScheme, type ResultLine, type WasmBuild } from './measure.js';

export { quantile, type ResultLine } from './measure.js';

// --- options ----------------------------------------------------------------------------------------

interface Options {
  arch: string;
  schemes: string[]; // vitguard schemes
  wasm: WasmBuild[];
  ort: OnnxLinearScheme[]; // onnxruntime-web baselines
  runs: number;
  warmup: number;
  seed: number;
  json: boolean;
  child: boolean; // internal: this process is the relaxed child
}

const RELAXED_FLAGS = ['--experimental-wasm-relaxed-simd', '--no-liftoff'];

function usage(message: string): never {
  throw new VitguardError('E_USAGE', `${message}\nusage: latency [--arch NAME] [--scheme fp32,w8a8,w4a8,w4a16] [--wasm simd,relaxed] [--ort fp32,int8,int4] [--runs N] [--warmup N] [--seed N] [--json]`);
}

export function parseArgs(argv: string[]): Options {
  const o: Options = { arch: 'deit_tiny_patch16_224', schemes: ['fp32'], wasm: ['simd'], ort: ['fp32', 'int8'], runs: 30, warmup: 15, seed: 0, json: false, child: false };
  const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    const int = (min: number) => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < min) usage(`${a} must be an integer ≥ ${min}`);
      return v;
    };
    switch (a) {
      case '--arch': o.arch = value(); break;
      case '--scheme': o.schemes = list(value()); break;
      case '--wasm': {
        const w = list(value());
        for (const x of w) if (x !== 'simd' && x !== 'relaxed') usage(`--wasm takes simd and/or relaxed, got ${x}`);
        o.wasm = w as WasmBuild[];
        break;
      }
      case '--ort': {
        const w = list(value());
        for (const x of w) if (!['fp32', 'int8', 'int4'].includes(x)) usage(`--ort takes fp32, int8, int4, got ${x}`);
        o.ort = w as OnnxLinearScheme[];
        break;
      }
      case '--runs': o.runs = int(1); break;
      case '--warmup': o.warmup = int(0); break;
      case '--seed': o.seed = int(0); break;
      case '--json': o.json = true; break;
      case '--child': o.child = true; break;
      default: usage(`unknown option ${a}`);
    }
  }
  if (!o.ort.includes('fp32')) o.ort.unshift('fp32'); // the reference for logit_rel_err and the ratios
  return o;
}

// --- measuring (bench/measure.ts) -------------------------------------------------------------------

function say(opts: Options, line: string): void {
  // human messages go to stderr so that stdout stays JSON lines under --json
  if (opts.json) process.stderr.write(line + '\n');
  else process.stdout.write(line + '\n');
}

/** Runs every contestant available to this process (wasm group `group`) and returns its result lines. */
async function runGroup(opts: Options, group: WasmBuild): Promise<ResultLine[]> {
  const m = benchModel(opts.arch, opts.seed);
  return measureGroup(m, group, { schemes: opts.schemes, ort: opts.ort, runs: opts.runs, warmup: opts.warmup }, { say: (l) => say(opts, l) });
}

/** Ratios within each process group (bench/measure.ts summarize), with this Node's version and flags. */
export function summarize(arch: string, lines: ResultLine[]): Record<string, unknown> {
  return summarizeLines(arch, lines, { node: process.version, flags: process.execArgv });
}

// --- processes --------------------------------------------------------------------------------------

function relaxedChild(opts: Options): Promise<ResultLine[]> {
  const script = fileURLToPath(import.meta.url);
  const args = [
    ...RELAXED_FLAGS, script, '--child', '--json', '--wasm', 'relaxed', '--arch', opts.arch, '--scheme', opts.schemes.join(','),
    '--ort', opts.ort.join(','), '--runs', String(opts.runs), '--warmup', String(opts.warmup), '--seed', String(opts.seed),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new VitguardError('E_WASM', `relaxed-SIMD child process (node ${RELAXED_FLAGS.join(' ')}) exited with code ${code}`));
      resolve(out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ResultLine));
    });
  });
}

function print(opts: Options, l: ResultLine): void {
  if (opts.json) { process.stdout.write(JSON.stringify(l) + '\n'); return; }
  const name = `${l.engine} ${l.scheme}`.padEnd(16);
  process.stdout.write(`[${l.group}] ${name} wasm=${l.wasm.padEnd(7)} median ${l.median_ms.toFixed(1).padStart(7)} ms  p90 ${l.p90_ms.toFixed(1).padStart(7)} ms  ` +
    `${(l.model_bytes / 2 ** 20).toFixed(1).padStart(6)} MiB  load ${l.load_ms.toFixed(0)} ms  Δlogit/max ${l.logit_rel_err.toExponential(1)}  (${l.runs} runs)\n`);
}

export async function main(argv: string[]): Promise<void> {
  const opts = parseArgs(argv);
  if (opts.child) {
    for (const l of await runGroup(opts, 'relaxed')) print(opts, l);
    return;
  }
  say(opts, `latency: ${opts.arch}, vitguard [${opts.schemes}] × wasm [${opts.wasm}], ort [${opts.ort}], 1 thread, ` +
    `${opts.warmup} warm-up + ${opts.runs} interleaved runs, node ${process.version} ${process.execArgv.join(' ')}`);
  const lines: ResultLine[] = [];
  if (opts.wasm.includes('simd')) {
    for (const l of await runGroup(opts, 'simd')) { print(opts, l); lines.push(l); }
  }
  if (opts.wasm.includes('relaxed')) {
    for (const l of await relaxedChild(opts)) { print(opts, l); lines.push(l); }
  }
  const summary = summarize(opts.arch, lines);
  if (opts.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else process.stdout.write(`summary ${JSON.stringify(summary.groups)} size ${JSON.stringify(summary.size)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`latency: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
