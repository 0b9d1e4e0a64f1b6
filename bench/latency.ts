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
// --threads 1,2 runs the whole group once per thread count (each line's `threads` says which; one summary each).
// --attention f32,int8 runs each vitguard scheme once per attention path, interleaved (lines carry "attention"; the
// summary names the int8 ones `<scheme>+attn_int8`).
//
// The per-op profile instead of the latency run (no onnxruntime-web; bench/profile.ts has the line format):
//   npm run bench -- --profile --arch deit_tiny_patch16_224,deit_small_patch16_224 --scheme fp32,w8a8,w4a8 \
//     --wasm simd,relaxed [--threads 1,2] [--attention f32,int8] [--markdown FILE] [--json]
// prints (or writes to FILE) markdown tables — ms and share per op kind, each GEMM's GOP/s and % of the instruction
// ceiling measured in the same process — and under --json the profile and ceiling lines.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { VitguardError } from '../sdk/errors.js';
import type { AttentionMode } from '../sdk/engine/index.js';
import { benchModel, runGroup as measureGroup, summarize as summarizeLines, type OnnxLinearScheme, type ResultLine, type WasmBuild } from './measure.js';
import { profileGroup, profileMarkdown, type CeilingLine, type ProfileLine } from './profile.js';
import { eachOption } from './args.js';

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
  child: boolean; // internal: this process is a child (the relaxed group, or a thread count of its own)
  /** internal (--group): the wasm group a child runs (default relaxed). */
  group?: WasmBuild;
  /** --arch a,b (profile only): every architecture, arch = the first. */
  archs: string[];
  /** --threads: thread counts, each its own contestant / group; absent = the engine's default (1). */
  threads?: number[];
  /** --attention: attention paths (EngineOptions.attention), each its own contestant (profile and latency run); absent = default. */
  attention?: string[];
  profile: boolean;
  /** --markdown FILE: the profile's tables go there instead of stdout. */
  markdown?: string;
  /** --clock cpu|wall: what the profile times with (default cpu: this process's CPU time). */
  clock: 'cpu' | 'wall';
}

const RELAXED_FLAGS = ['--experimental-wasm-relaxed-simd', '--no-liftoff'];

function usage(message: string): never {
  throw new VitguardError('E_USAGE', `${message}\nusage: latency [--arch NAME] [--scheme fp32,w8a8,w4a8,w4a16] [--wasm simd,relaxed] [--ort fp32,int8,int4] [--threads 1,2] [--attention f32,int8] [--runs N] [--warmup N] [--seed N] [--json]\n` +
    `       latency --profile [--arch NAME,NAME] [--scheme ..] [--wasm ..] [--threads 1,2] [--attention f32,int8] [--markdown FILE] [--clock cpu|wall] [--runs N] [--warmup N] [--seed N] [--json]`);
}

export function parseArgs(argv: string[]): Options {
  const o: Options = { arch: 'deit_tiny_patch16_224', schemes: ['fp32'], wasm: ['simd'], ort: ['fp32', 'int8'], runs: 30, warmup: 15, seed: 0, json: false, child: false, archs: [], profile: false, clock: 'cpu' };
  eachOption(argv, usage, (a, { value, int, list, builds }) => {
    switch (a) {
      case '--arch': o.archs = list(); o.arch = o.archs[0] ?? usage('--arch needs a name'); break;
      case '--scheme': o.schemes = list(); break;
      case '--wasm': o.wasm = builds(); break;
      case '--ort': {
        const w = list();
        for (const x of w) if (!['fp32', 'int8', 'int4'].includes(x)) usage(`--ort takes fp32, int8, int4, got ${x}`);
        o.ort = w as OnnxLinearScheme[];
        break;
      }
      case '--threads': {
        const t = list().map(Number);
        for (const x of t) if (!Number.isInteger(x) || x < 1 || x > 64) usage(`--threads takes thread counts 1..64, got ${x}`);
        o.threads = [...new Set(t)];
        break;
      }
      case '--attention': {
        const w = list();
        for (const x of w) if (x !== 'f32' && x !== 'int8') usage(`--attention takes f32 and/or int8, got ${x}`);
        o.attention = w;
        break;
      }
      case '--profile': o.profile = true; break;
      case '--markdown': o.markdown = value(); break;
      case '--clock': {
        const c = value();
        if (c !== 'cpu' && c !== 'wall') usage(`--clock takes cpu or wall, got ${c}`);
        o.clock = c;
        break;
      }
      case '--runs': o.runs = int(1); break;
      case '--warmup': o.warmup = int(0); break;
      case '--seed': o.seed = int(0); break;
      case '--json': o.json = true; break;
      case '--child': o.child = true; break;
      case '--group': o.group = value() === 'simd' ? 'simd' : 'relaxed'; break;
      default: usage(`unknown option ${a}`);
    }
  });
  if (!o.ort.includes('fp32')) o.ort.unshift('fp32'); // the reference for logit_rel_err and the ratios
  if (!o.archs.length) o.archs = [o.arch];
  if (!o.profile) {
    if (o.archs.length > 1) usage('several --arch names need --profile (the latency run takes one)');
    if (o.markdown) usage('--markdown needs --profile');
  }
  return o;
}

// --- measuring (bench/measure.ts) -------------------------------------------------------------------

function say(opts: Options, line: string): void {
  // human messages go to stderr so that stdout stays JSON lines under --json
  if (opts.json) process.stderr.write(line + '\n');
  else process.stdout.write(line + '\n');
}

/** Runs every contestant available to this process (wasm group `group`) and returns its result lines. */
async function runGroup(opts: Options, group: WasmBuild, counts = opts.threads ?? [1]): Promise<ResultLine[]> {
  const m = benchModel(opts.arch, opts.seed);
  const lines: ResultLine[] = [];
  for (const threads of counts) {
    lines.push(...await measureGroup(m, group, { schemes: opts.schemes, ort: opts.ort, runs: opts.runs, warmup: opts.warmup, threads, attention: opts.attention as AttentionMode[] | undefined }, { say: (l) => say(opts, l) }));
  }
  return lines;
}

/**
 * The profile's clocks. cpu = this process's user + system CPU time (µs resolution, ~1 µs a read): on a machine
 * shared with other processes it leaves out the time the scheduler gives them, which wall time does not.
 */
const CLOCKS = {
  cpu: { name: 'cpu', now: () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; } },
  wall: { name: 'wall', now: () => performance.now() },
};

/** The profile of every arch on wasm build `group` in this process: its profile lines and ceiling lines. */
async function profileInProcess(opts: Options, group: WasmBuild): Promise<Array<ProfileLine | CeilingLine>> {
  const out: Array<ProfileLine | CeilingLine> = [];
  for (const arch of opts.archs) {
    say(opts, `[${group}] profile ${arch}: ${opts.schemes.join(', ')}${opts.threads ? ` × threads ${opts.threads.join(', ')}` : ''}` +
      `${opts.attention ? ` × attention ${opts.attention.join(', ')}` : ''}, ${opts.warmup} warm-up + ${opts.runs} profiled rounds`);
    const m = benchModel(arch, opts.seed);
    const r = await profileGroup(m, group, {
      schemes: opts.schemes, threads: opts.threads, attention: opts.attention, runs: opts.runs, warmup: opts.warmup, clock: CLOCKS[opts.clock],
    }, { say: (l) => say(opts, l) });
    out.push(...r.lines, ...r.ceilings);
  }
  return out;
}

/** Ratios within each process group (bench/measure.ts summarize), with this Node's version and flags. */
export function summarize(arch: string, lines: ResultLine[]): Record<string, unknown> {
  return summarizeLines(arch, lines, { node: process.version, flags: process.execArgv });
}

// --- processes --------------------------------------------------------------------------------------

/**
 * A child process for the relaxed group (flags above), or for one more thread count of a group: onnxruntime-web takes
 * its thread count once per process, so each count's ORT baselines need a process of their own.
 */
function relaxedChild<L = ResultLine>(opts: Options, group: WasmBuild = 'relaxed', threads = opts.threads): Promise<L[]> {
  const script = fileURLToPath(import.meta.url);
  const args = [
    ...(group === 'relaxed' ? RELAXED_FLAGS : process.execArgv), script, '--child', '--group', group, '--json', '--wasm', group, '--arch', opts.archs.join(','), '--scheme', opts.schemes.join(','),
    '--ort', opts.ort.join(','), '--runs', String(opts.runs), '--warmup', String(opts.warmup), '--seed', String(opts.seed),
    ...(threads ? ['--threads', threads.join(',')] : []), ...(opts.attention ? ['--attention', opts.attention.join(',')] : []),
    ...(opts.profile ? ['--profile', '--clock', opts.clock] : []),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new VitguardError('E_WASM', `${group} child process (node ${args.slice(0, args.indexOf(script)).join(' ')}${threads ? `, threads ${threads.join(',')}` : ''}) exited with code ${code}`));
      resolve(out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as L));
    });
  });
}

function print(opts: Options, l: ResultLine): void {
  if (opts.json) { process.stdout.write(JSON.stringify(l) + '\n'); return; }
  const name = `${l.engine} ${l.scheme}${l.attention === 'int8' ? '+attn_int8' : ''}${l.threads > 1 ? ` ${l.threads}T` : ''}`.padEnd(16);
  process.stdout.write(`[${l.group}] ${name} wasm=${l.wasm.padEnd(7)} median ${l.median_ms.toFixed(1).padStart(7)} ms  p90 ${l.p90_ms.toFixed(1).padStart(7)} ms  ` +
    `${(l.model_bytes / 2 ** 20).toFixed(1).padStart(6)} MiB  load ${l.load_ms.toFixed(0)} ms  Δlogit/max ${l.logit_rel_err.toExponential(1)}  (${l.runs} runs)\n`);
}

/** The profile: this process (simd) and the relaxed child, then JSON lines and/or the markdown tables. */
async function profileMain(opts: Options, argv: string[]): Promise<void> {
  const load0 = loadavg();
  const t0 = Date.now();
  const lines: Array<ProfileLine | CeilingLine> = [];
  const emit = (ls: Array<ProfileLine | CeilingLine>) => {
    for (const l of ls) {
      lines.push(l);
      if (opts.json) process.stdout.write(JSON.stringify(l) + '\n');
    }
  };
  if (opts.wasm.includes('simd')) emit(await profileInProcess(opts, 'simd'));
  if (opts.wasm.includes('relaxed')) emit(await relaxedChild<ProfileLine | CeilingLine>(opts));
  const load1 = loadavg();
  const header = [
    `Per-op profile, \`npm run bench -- ${argv.filter((a) => a !== '--json').join(' ')}\`: ${opts.warmup} warm-up + ${opts.runs} profiled forwards per ` +
      `contestant, interleaved; medians. simd build in this process (node ${process.version} ${process.execArgv.join(' ')}), relaxed in a child ` +
      `(${RELAXED_FLAGS.join(' ')}). ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, load average ${load0[0].toFixed(2)} before, ` +
      `${load1[0].toFixed(2)} after (1 min), ${((Date.now() - t0) / 1000).toFixed(0)} s, ${new Date().toISOString().slice(0, 16)}Z.`,
    `Clock: ${opts.clock === 'cpu' ? 'this process\'s CPU time (user + system), which leaves out the time other processes get on a shared machine' : 'wall (performance.now)'}. ` +
      'Σ ops: the profiled kernel calls; profiled forward: the same forward end to end (the rest is JavaScript between calls and the timer); unprofiled forward: one run before it without the profile (on several threads only this, on the wall clock).',
    'GOP/s counts 2 ops per multiply-add at the model\'s shapes (M = tokens); a ceiling counts the same way (f32x4 madd = 8, dot_i16x8 = 16, ' +
      'relaxed_dot_i8x16 = 32 per instruction) and is the median of one sample after each round.',
  ];
  const md = profileMarkdown(lines.filter((l): l is ProfileLine => 'op' in l), lines.filter((l): l is CeilingLine => 'ceiling' in l && !('op' in l)), header);
  if (opts.markdown) {
    writeFileSync(opts.markdown, md);
    say(opts, `profile: tables written to ${opts.markdown}`);
  } else if (!opts.json) {
    process.stdout.write(md);
  }
}

/**
 * --threads a,b,..: every engine × scheme × build at each thread count against the first count, as ratios of medians
 * (2T/1T ≤ 0.55 is issue 10's target). Each count runs in its own process, one after the other: noisier than ratios
 * within one process.
 */
export function threadsSummary(arch: string, lines: ResultLine[], counts: number[]): { summary: 'threads'; arch: string; counts: number[]; ratios: Record<string, number> } {
  const base = counts[0];
  const key = (l: ResultLine) => `${l.engine}_${l.scheme}${l.attention === 'int8' ? '+attn_int8' : ''}_${l.group}`;
  const ratios: Record<string, number> = {};
  for (const l of lines) {
    if (l.threads === base) continue;
    const b = lines.find((x) => x.threads === base && key(x) === key(l) && x.wasm === l.wasm);
    if (b) ratios[`${key(l)} ${l.threads}T/${base}T`] = Number((l.median_ms / b.median_ms).toFixed(3));
  }
  return { summary: 'threads', arch, counts, ratios };
}

export async function main(argv: string[]): Promise<void> {
  const opts = parseArgs(argv);
  if (opts.child) {
    if (opts.profile) {
      for (const l of await profileInProcess(opts, 'relaxed')) process.stdout.write(JSON.stringify(l) + '\n');
      return;
    }
    for (const l of await runGroup(opts, opts.group ?? 'relaxed')) print(opts, l);
    return;
  }
  if (opts.profile) return profileMain(opts, argv);
  say(opts, `latency: ${opts.arch}, vitguard [${opts.schemes}] × wasm [${opts.wasm}], ort [${opts.ort}], ${opts.threads ? `threads ${opts.threads.join(', ')}` : '1 thread'}, ` +
    `${opts.warmup} warm-up + ${opts.runs} interleaved runs, node ${process.version} ${process.execArgv.join(' ')}`);
  const lines: ResultLine[] = [];
  // one process per thread count and group (onnxruntime-web's thread count is fixed per process): the first count of
  // the simd group in this one, every other in a child
  const counts = opts.threads ?? [1];
  if (opts.wasm.includes('simd')) {
    for (const l of await runGroup(opts, 'simd', counts.slice(0, 1))) { print(opts, l); lines.push(l); }
    for (const t of counts.slice(1)) for (const l of await relaxedChild(opts, 'simd', [t])) { print(opts, l); lines.push(l); }
  }
  if (opts.wasm.includes('relaxed')) {
    for (const t of counts) for (const l of await relaxedChild(opts, 'relaxed', opts.threads ? [t] : undefined)) { print(opts, l); lines.push(l); }
  }
  for (const threads of opts.threads ?? [1]) {
    const summary = summarize(opts.arch, lines.filter((l) => l.threads === threads));
    if (opts.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else process.stdout.write(`summary${opts.threads ? ` ${threads} thread(s)` : ''} ${JSON.stringify(summary.groups)} size ${JSON.stringify(summary.size)}\n`);
  }
  if (counts.length > 1) {
    const t = threadsSummary(opts.arch, lines, counts);
    process.stdout.write(opts.json ? JSON.stringify(t) + '\n' : `threads ${JSON.stringify(t.ratios)}\n`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`latency: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
