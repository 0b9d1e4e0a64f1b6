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
import { Engine } from '../sdk/engine/index.js';
import { encodeMeta, readModel, type ModelFile, type ModelMeta } from '../sdk/format/model.js';
import { writeSafetensors } from '../sdk/format/safetensors.js';
import { configForArch, defaultPreprocessing, imagenetLabels } from '../sdk/model/arch.js';
import { gaussian, mulberry32, randomCheckpoint } from '../sdk/model/random.js';
import { quantizeModel, SCHEMES, type SchemeName } from '../sdk/quant/index.js';
import { buildVitOnnx, type OnnxLinearScheme } from '../test/oracle/onnx-vit.js';
import { createOrtSession, initOrtRuntime, ortVersion } from '../test/oracle/ort.js';

// --- options ----------------------------------------------------------------------------------------

type WasmBuild = 'simd' | 'relaxed';

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

// --- contestants ------------------------------------------------------------------------------------

interface Contestant {
  engine: 'vitguard' | 'ort';
  scheme: string;
  wasm: WasmBuild;
  modelBytes: number;
  loadMs: number;
  /** One forward of the benchmark image; returns the logits. */
  run(): Promise<Float32Array>;
  release(): Promise<void> | void;
  times: number[];
  logits?: Float32Array;
}

/** The model file of one vitguard scheme: the fp32 file itself, or its quantization. */
function schemeFile(fp32File: Uint8Array, model: ModelFile, scheme: SchemeName): Uint8Array {
  if (scheme === 'fp32') return fp32File;
  const q = quantizeModel(model, { scheme });
  return writeSafetensors(q.tensors, encodeMeta(q.meta));
}

const now = () => performance.now();

function say(opts: Options, line: string): void {
  // human messages go to stderr so that stdout stays JSON lines under --json
  if (opts.json) process.stderr.write(line + '\n');
  else process.stdout.write(line + '\n');
}

/** Runs every contestant available to this process (wasm group `group`) and returns its result lines. */
async function runGroup(opts: Options, group: WasmBuild): Promise<ResultLine[]> {
  const config = configForArch(opts.arch);
  const meta: ModelMeta = {
    arch: opts.arch,
    config,
    labels: imagenetLabels(config.numClasses),
    preprocessing: defaultPreprocessing(opts.arch),
    scheme: { name: 'fp32' },
    extra: {},
  };
  const tensors = randomCheckpoint(config, opts.seed);
  const fp32File = writeSafetensors(tensors, encodeMeta(meta));
  const model = readModel(fp32File);
  const randn = gaussian(mulberry32(opts.seed + 1000));
  const chw = Float32Array.from({ length: config.inChans * config.imgSize * config.imgSize }, () => randn());
  const dims: [number, number, number] = [config.inChans, config.imgSize, config.imgSize];

  const contestants: Contestant[] = [];
  const initMs = await initOrtRuntime(1);
  say(opts, `[${group}] onnxruntime-web ${ortVersion()} wasm runtime instantiated in ${initMs.toFixed(0)} ms`);
  for (const scheme of opts.ort) {
    const bytes = buildVitOnnx(tensors, config, { scheme });
    const t0 = now();
    const session = await createOrtSession(bytes, dims, { threads: 1 });
    contestants.push({
      engine: 'ort', scheme, wasm: 'simd', modelBytes: bytes.byteLength, loadMs: now() - t0, times: [],
      run: async () => (await session.run(chw)).logits,
      release: () => session.release(),
    });
  }

  for (const scheme of opts.schemes) {
    if (!(SCHEMES as readonly string[]).includes(scheme)) {
      say(opts, `[${group}] vitguard ${scheme}: unknown scheme (known: ${SCHEMES.join(', ')}), skipped`);
      continue;
    }
    const bytes = schemeFile(fp32File, model, scheme as SchemeName);
    const t0 = now();
    const engine = await Engine.create(bytes, { wasm: group });
    contestants.push({
      engine: 'vitguard', scheme, wasm: group, modelBytes: bytes.byteLength, loadMs: now() - t0, times: [],
      run: async () => engine.forward(chw).logits,
      release: () => engine.dispose(),
    });
  }

  // warm-up, interleaved (V8 needs 10–15 runs to tier up; FACTS.md)
  for (let w = 0; w < opts.warmup; w++) for (const c of contestants) c.logits = await c.run();
  if (opts.warmup === 0) for (const c of contestants) c.logits = await c.run();
  // timed rounds: every contestant once per round, the order rotating so none always follows the same neighbour
  for (let r = 0; r < opts.runs; r++) {
    for (let j = 0; j < contestants.length; j++) {
      const c = contestants[(r + j) % contestants.length];
      const t0 = now();
      await c.run();
      c.times.push(now() - t0);
    }
  }
  const ref = contestants.find((c) => c.engine === 'ort' && c.scheme === 'fp32')!.logits!;
  const lines = contestants.map((c) => toLine(opts, c, group, ref));
  for (const c of contestants) await c.release();
  return lines;
}

// --- results ----------------------------------------------------------------------------------------

export interface ResultLine {
  engine: 'vitguard' | 'ort';
  arch: string;
  scheme: string;
  wasm: WasmBuild;
  group: WasmBuild;
  threads: 1;
  median_ms: number;
  p90_ms: number;
  runs: number;
  model_bytes: number;
  load_ms: number;
  logit_rel_err: number;
}

export function quantile(sorted: number[], q: number): number {
  // linear interpolation between closest ranks
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

const round = (v: number, digits = 2) => Number(v.toFixed(digits));

function toLine(opts: Options, c: Contestant, group: WasmBuild, ref: Float32Array): ResultLine {
  const sorted = [...c.times].sort((a, b) => a - b);
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]));
    diff = Math.max(diff, Math.abs(c.logits![i] - ref[i]));
  }
  return {
    engine: c.engine, arch: opts.arch, scheme: c.scheme, wasm: c.wasm, group, threads: 1,
    median_ms: round(quantile(sorted, 0.5)), p90_ms: round(quantile(sorted, 0.9)), runs: c.times.length,
    model_bytes: c.modelBytes, load_ms: round(c.loadMs, 1), logit_rel_err: Number((diff / scale).toExponential(2)),
  };
}

/** Ratios within each process group: every vitguard scheme against ort fp32 and ort int8; file sizes against fp32. */
export function summarize(arch: string, lines: ResultLine[]): Record<string, unknown> {
  const groups: Record<string, Record<string, number>> = {};
  for (const g of new Set(lines.map((l) => l.group))) {
    const inGroup = lines.filter((l) => l.group === g);
    const ort = (s: string) => inGroup.find((l) => l.engine === 'ort' && l.scheme === s);
    const r: Record<string, number> = {};
    for (const v of inGroup.filter((l) => l.engine === 'vitguard')) {
      for (const base of ['fp32', 'int8', 'int4']) {
        const o = ort(base);
        if (o) r[`vitguard_${v.scheme}/ort_${base}`] = round(v.median_ms / o.median_ms, 3);
      }
    }
    const of = ort('fp32');
    const oi = ort('int8');
    if (of && oi) r['ort_int8/ort_fp32'] = round(oi.median_ms / of.median_ms, 3);
    groups[g] = r;
  }
  const size: Record<string, number> = {};
  const vg = lines.filter((l) => l.engine === 'vitguard');
  const fp32 = vg.find((l) => l.scheme === 'fp32');
  if (fp32) for (const v of vg) if (v.group === fp32.group && v !== fp32) size[`vitguard_${v.scheme}/vitguard_fp32`] = round(v.model_bytes / fp32.model_bytes, 4);
  return { summary: true, arch, threads: 1, node: process.version, flags: process.execArgv, groups, size };
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
