// The latency measurement itself, free of Node: one random-weight model at real shapes, vitguard per scheme on one
// wasm build against onnxruntime-web (wasm backend) on the same weights, warm-up then interleaved timed rounds, and
// the result lines and summary both front ends print. Run by `npm run bench` (bench/latency.ts, one group per Node
// process) and by the on-device bench page (demos/browser/bench.html, both groups in the visitor's browser, one after
// the other), so a phone's numbers and Node's come from the same code and read the same.
//
// A result line (one per engine × scheme × wasm build):
//   {"engine":"vitguard"|"ort","arch","scheme","wasm","group","threads","median_ms","p90_ms","runs","model_bytes",
//    "load_ms","logit_rel_err"[,"browser"]}
// group: the wasm build of the vitguard contestants timed together with these ORT baselines (simd | relaxed);
// ort's wasm is always "simd" (its npm build has no relaxed SIMD); logit_rel_err = max|Δlogit| / max|logit| against
// ort fp32 on the same image; browser: set by the page (engine and version from the user agent).
// The summary line: {"summary":true,"arch","threads",<environment>,"groups":{"simd":{"vitguard_w8a8/ort_int8":..}},"size":{..}}.

import { VitguardError } from '../sdk/errors.js';
import { Engine, type AttentionMode, type WasmSource } from '../sdk/engine/index.js';
import { encodeMeta, readModel, type ModelFile, type ModelMeta, type ViTConfig } from '../sdk/format/model.js';
import { writeSafetensors, type Tensor } from '../sdk/format/safetensors.js';
import { configForArch, defaultPreprocessing, imagenetLabels } from '../sdk/model/arch.js';
import { gaussian, mulberry32, randomCheckpoint } from '../sdk/model/random.js';
import { quantizeModel, SCHEMES, type SchemeName } from '../sdk/quant/index.js';
import { buildVitOnnx, type OnnxLinearScheme } from '../test/oracle/onnx-vit.js';
import { createOrtSession, initOrtRuntime, ortVersion } from '../test/oracle/ort.js';

export type WasmBuild = 'simd' | 'relaxed';
export type { OnnxLinearScheme };

export interface ResultLine {
  engine: 'vitguard' | 'ort';
  arch: string;
  scheme: string;
  wasm: WasmBuild;
  group: WasmBuild;
  threads: number;
  median_ms: number;
  p90_ms: number;
  runs: number;
  model_bytes: number;
  load_ms: number;
  logit_rel_err: number;
  /** The browser the line was measured in (bench page only). */
  browser?: string;
  /** vitguard's attention path (EngineOptions.attention), on the lines of a run that asked for one. */
  attention?: AttentionMode;
}

/** The benchmark's model: random weights at the architecture's real shapes, and one random input image. */
export interface BenchModel {
  arch: string;
  config: ViTConfig;
  tensors: Map<string, Tensor>;
  fp32File: Uint8Array;
  model: ModelFile;
  /** One normalised image [C, S, S]. */
  chw: Float32Array;
  dims: [number, number, number];
}

export function benchModel(arch: string, seed = 0): BenchModel {
  const config = configForArch(arch);
  const meta: ModelMeta = {
    arch,
    config,
    labels: imagenetLabels(config.numClasses),
    preprocessing: defaultPreprocessing(arch),
    scheme: { name: 'fp32' },
    extra: {},
  };
  const tensors = randomCheckpoint(config, seed);
  const fp32File = writeSafetensors(tensors, encodeMeta(meta));
  const randn = gaussian(mulberry32(seed + 1000));
  const chw = Float32Array.from({ length: config.inChans * config.imgSize * config.imgSize }, () => randn());
  return { arch, config, tensors, fp32File, model: readModel(fp32File), chw, dims: [config.inChans, config.imgSize, config.imgSize] };
}

/** The model file of one vitguard scheme: the fp32 file itself, or its quantization. */
export function schemeFile(m: BenchModel, scheme: SchemeName): Uint8Array {
  if (scheme === 'fp32') return m.fp32File;
  const q = quantizeModel(m.model, { scheme });
  return writeSafetensors(q.tensors, encodeMeta(q.meta));
}

export interface GroupOptions {
  /** vitguard schemes; unknown names are reported through say() and skipped. */
  schemes: string[];
  /** onnxruntime-web baselines; fp32 is always run (the reference for logit_rel_err and the ratios). */
  ort: OnnxLinearScheme[];
  runs: number;
  warmup: number;
  /** Threads for both engines (default 1). onnxruntime-web takes its count once per process (or page). */
  threads?: number;
  /** Where the vitguard kernels come from (a page passes URLs; Node reads build/). */
  wasmSource?: WasmSource;
  /** Set on every line (the bench page). */
  browser?: string;
  /** vitguard's attention paths: each scheme runs once per path (EngineOptions.attention); absent = the default. */
  attention?: AttentionMode[];
}

export interface GroupHooks {
  /** Human messages (stderr in Node, the status line in a page). */
  say?(line: string): void;
  /** Called before each step: done of total forwards (warm-up and timed), and what comes next. */
  progress?(done: number, total: number, what: string): void;
  /** Awaited between forwards, outside the timed region (a page yields here so it can paint). */
  tick?(): Promise<void>;
}

interface Contestant {
  engine: 'vitguard' | 'ort';
  scheme: string;
  attention?: AttentionMode;
  wasm: WasmBuild;
  modelBytes: number;
  loadMs: number;
  /** One forward of the benchmark image; returns the logits. */
  run(): Promise<Float32Array>;
  release(): Promise<void> | void;
  times: number[];
  logits?: Float32Array;
}

const now = () => performance.now();
let ortReady: Promise<number> | null = null;
let ortThreads: number | null = null;

/**
 * Time every contestant of one group: ORT's baselines and vitguard's schemes on wasm build `group`, all loaded from
 * bytes already in memory (load_ms = session / engine creation), warmed up and then timed in interleaved rounds.
 */
export async function runGroup(m: BenchModel, group: WasmBuild, opts: GroupOptions, hooks: GroupHooks = {}): Promise<ResultLine[]> {
  const say = hooks.say ?? (() => {});
  const threads = opts.threads ?? 1;
  if (ortThreads !== null && ortThreads !== threads) {
    // onnxruntime-web reads its thread count once, when its runtime starts
    throw new VitguardError('E_USAGE', `onnxruntime-web runs ${ortThreads} thread(s) in this process and cannot change: measure ${threads} thread(s) in another process (or reload the page)`);
  }
  const ortSchemes: OnnxLinearScheme[] = opts.ort.includes('fp32') ? [...opts.ort] : ['fp32', ...opts.ort];
  const schemes = opts.schemes.filter((s) => {
    if ((SCHEMES as readonly string[]).includes(s)) return true;
    say(`[${group}] vitguard ${s}: unknown scheme (known: ${SCHEMES.join(', ')}), skipped`);
    return false;
  });
  const attentions: Array<AttentionMode | undefined> = opts.attention?.length ? opts.attention : [undefined];
  const nv = schemes.length * attentions.length;
  const total = (opts.warmup || 1) * (ortSchemes.length + nv) + opts.runs * (ortSchemes.length + nv);
  const step = (done: number, what: string) => hooks.progress?.(done, total, what);

  if (!ortReady) {
    ortReady = initOrtRuntime(threads);
    ortThreads = threads;
    ortReady.catch(() => { ortReady = null; ortThreads = null; });
    step(0, 'onnxruntime-web: instantiating its wasm runtime');
    say(`[${group}] onnxruntime-web ${ortVersion()} wasm runtime instantiated in ${(await ortReady).toFixed(0)} ms`);
  }
  const contestants: Contestant[] = [];
  try {
    for (const scheme of ortSchemes) {
      step(0, `onnxruntime-web ${scheme}: building the graph and creating the session`);
      await hooks.tick?.();
      const bytes = buildVitOnnx(m.tensors, m.config, { scheme });
      const t0 = now();
      const session = await createOrtSession(bytes, m.dims, { threads });
      contestants.push({
        engine: 'ort', scheme, wasm: 'simd', modelBytes: bytes.byteLength, loadMs: now() - t0, times: [],
        run: async () => (await session.run(m.chw)).logits,
        release: () => session.release(),
      });
    }
    for (const [scheme, attention] of schemes.flatMap((s) => attentions.map((a) => [s, a] as const))) {
      step(0, `vitguard ${scheme} (${group}): ${scheme === 'fp32' ? 'loading' : 'quantizing and loading'}`);
      await hooks.tick?.();
      const bytes = schemeFile(m, scheme as SchemeName);
      const t0 = now();
      const engine = await Engine.create(bytes, { wasm: group, wasmSource: opts.wasmSource, threads, ...(attention ? { attention } : {}) });
      if (engine.threads.used !== threads) {
        say(`[${group}] vitguard ${scheme}: ${threads} threads asked, ${engine.threads.used} ran (${engine.threads.reason ?? 'no reason given'}): left out`);
        engine.dispose();
        continue;
      }
      contestants.push({
        engine: 'vitguard', scheme, ...(attention ? { attention } : {}), wasm: group, modelBytes: bytes.byteLength, loadMs: now() - t0, times: [],
        run: async () => engine.forward(m.chw).logits,
        release: () => engine.dispose(),
      });
    }

    // warm-up, interleaved (V8 needs 10–15 runs to tier up; FACTS.md); at least one run each for the logits
    let done = 0;
    for (let w = 0; w < Math.max(1, opts.warmup); w++) {
      for (const c of contestants) {
        step(done++, `warm-up ${w + 1}/${Math.max(1, opts.warmup)}: ${c.engine} ${c.scheme}`);
        await hooks.tick?.();
        c.logits = await c.run();
      }
    }
    // timed rounds: every contestant once per round, the order rotating so none always follows the same neighbour
    for (let r = 0; r < opts.runs; r++) {
      for (let j = 0; j < contestants.length; j++) {
        const c = contestants[(r + j) % contestants.length];
        step(done++, `run ${r + 1}/${opts.runs}: ${c.engine} ${c.scheme}`);
        await hooks.tick?.();
        const t0 = now();
        await c.run();
        c.times.push(now() - t0);
      }
    }
    step(total, 'done');
    const ref = contestants.find((c) => c.engine === 'ort' && c.scheme === 'fp32')!.logits!;
    return contestants.map((c) => toLine(m.arch, c, group, threads, ref, opts.browser));
  } finally {
    for (const c of contestants) await c.release();
  }
}

// --- results ----------------------------------------------------------------------------------------

export function quantile(sorted: number[], q: number): number {
  // linear interpolation between closest ranks
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export const round = (v: number, digits = 2) => Number(v.toFixed(digits));

function toLine(arch: string, c: Contestant, group: WasmBuild, threads: number, ref: Float32Array, browser?: string): ResultLine {
  const sorted = [...c.times].sort((a, b) => a - b);
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]));
    diff = Math.max(diff, Math.abs(c.logits![i] - ref[i]));
  }
  const line: ResultLine = {
    engine: c.engine, arch, scheme: c.scheme, wasm: c.wasm, group, threads,
    median_ms: round(quantile(sorted, 0.5)), p90_ms: round(quantile(sorted, 0.9)), runs: c.times.length,
    model_bytes: c.modelBytes, load_ms: round(c.loadMs, 1), logit_rel_err: Number((diff / scale).toExponential(2)),
  };
  if (browser !== undefined) line.browser = browser;
  if (c.attention !== undefined) line.attention = c.attention;
  return line;
}

/** A vitguard line's name in the summary's ratios: the scheme, `+attn_int8` when it ran the int8 attention. */
export function contestantName(l: ResultLine): string {
  return l.attention === 'int8' ? `${l.scheme}+attn_int8` : l.scheme;
}

/**
 * Ratios within each group: every vitguard scheme against ort fp32, int8 and int4 (medians), ort int8 against
 * ort fp32; file sizes against fp32. `env` says where it ran (Node: node, flags; a page: browser, userAgent, ...).
 */
export function summarize(arch: string, lines: ResultLine[], env: Record<string, unknown> = {}): Record<string, unknown> {
  const groups: Record<string, Record<string, number>> = {};
  for (const g of new Set(lines.map((l) => l.group))) {
    const inGroup = lines.filter((l) => l.group === g);
    const ort = (s: string) => inGroup.find((l) => l.engine === 'ort' && l.scheme === s);
    const r: Record<string, number> = {};
    for (const v of inGroup.filter((l) => l.engine === 'vitguard')) {
      for (const base of ['fp32', 'int8', 'int4']) {
        const o = ort(base);
        if (o) r[`vitguard_${contestantName(v)}/ort_${base}`] = round(v.median_ms / o.median_ms, 3);
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
  if (fp32) for (const v of vg) if (v.group === fp32.group && v !== fp32 && v.attention !== 'int8') size[`vitguard_${v.scheme}/vitguard_fp32`] = round(v.model_bytes / fp32.model_bytes, 4);
  const threads = lines[0]?.threads ?? 1;
  return { summary: true, arch, threads, ...env, groups, size };
}
