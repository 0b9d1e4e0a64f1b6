// Cold start and peak memory: load-to-first-result of vitguard against onnxruntime-web's session creation, each
// contestant in a fresh child process, side by side at the same precision (fp32 ↔ ORT fp32, w8a8 ↔ ORT int8
// MatMulInteger, w4a8 / w4a16 ↔ ORT int4 MatMulNBits).
//
//   npm run bench:coldstart -- [--arch deit_tiny_patch16_224,deit_small_patch16_224] [--full] [--scheme fp32,w8a8,w4a8]
//                              [--wasm simd[,relaxed]] [--children 5] [--steady 8] [--seed 0] [--no-ort] [--json]
//
// The parent makes the random-weight checkpoint (sdk/model/random.ts), quantizes it (quantizeModel) and builds the ONNX
// graphs (test/oracle/onnx-vit.ts), writes every file to a temporary folder, then starts one child per contestant and
// repetition, interleaved (rep 1 of every contestant, then rep 2, ...), so quantization and graph building are never
// counted as load and the machine's load drifts over all contestants alike. A child imports only its own library,
// reads its files (not timed: "bytes in memory" is the start), then times, with performance.now():
//
//   vitguard  compile_ms  WebAssembly.compile of the kernel binary (simd or relaxed)      → a WebAssembly.Module
//             create_ms   Engine.create(model bytes, { wasmSource: { [build]: module }, keepModel: false })
//                                                                                         → weights laid out in wasm
//             first_ms    the first forward of one image                                  → logits
//   ort       compile_ms  onnxruntime-web's runtime: its ~12 MB wasm compiled and instantiated (initOrtRuntime)
//             create_ms   InferenceSession.create(onnx bytes)                              → session ready
//             first_ms    the first session.run of the same image
//
// ready_ms = compile_ms + create_ms (load to ready), first_result_ms = ready_ms + first_ms; create_cpu_ms = the CPU
// time of the create stage (process.cpuUsage, all of the child's threads), steadier than wall time on a loaded machine;
// create_warm_ms / first_warm_ms = the same model loaded and run again in the same child after dispose/release (the
// runtime compiled and its code warm: what latency.ts's load_ms measures). Memory, read from
// /proc/self/status (Linux) or process.resourceUsage(): peak_rss = VmHWM at the end (the whole process: node itself,
// the library's JS, the model bytes, wasm memory), rss_ready = VmHWM when ready; then after one forced GC (children run
// with --expose-gc; nothing is collected before the peak is read): rss_gc and array_buffers_gc (JS ArrayBuffers still
// held, the model file among them); wasm_bytes = vitguard's wasm linear memory (engine.memoryBytes()). A "node"
// contestant (a child that imports nothing and loads nothing) gives the baseline that *_net figures subtract.
//
// --steady N (default 0 = off; 8 is a good N): then, per arch and build, one more child loads every contestant and creates and
// releases each N times interleaved after 2 unmeasured rounds (steadyChild): the steady state of a process that has
// loaded the model before, its lines {"steady":true,"engine","arch","scheme","wasm","create_ms","create_cpu_ms",...}.
//
// Output: a markdown table (stdout; with --json, stderr) and, with --json, one line per contestant on stdout:
//   {"engine":"vitguard"|"ort"|"node","arch","scheme","wasm","children","flags","model_bytes",
//    "compile_ms","create_ms","create_cpu_ms","ready_ms","first_ms","first_result_ms","create_warm_ms","create_warm_cpu_ms","first_warm_ms","peak_rss","peak_rss_net","rss_ready","rss_gc",
//    "array_buffers_gc","wasm_bytes","samples":{...}}   (medians over the children; samples = every child's values)
// then one {"summary":true,...} line per arch with the ratios against the targets (ready ≤ 0.5× ORT's session
// creation at the same precision; w4a8's peak memory ≤ 0.5× ORT int8's), reported, never asserted.
// Children run with the flags a user's node has (none) for the simd build; the relaxed build's children (and their
// ORT baselines) run with --experimental-wasm-relaxed-simd --no-liftoff (FACTS.md: Node 20's Liftoff miscomputes
// the relaxed dot).

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eachOption } from './args.js';

type WasmBuild = 'simd' | 'relaxed';
type OrtScheme = 'fp32' | 'int8' | 'int4';

const ARCHS = ['deit_tiny_patch16_224', 'deit_small_patch16_224'];
const FULL_ARCH = 'vit_base_patch16_224';
/** The ORT precision each vitguard scheme is compared with. */
const ORT_FOR: Record<string, OrtScheme> = { fp32: 'fp32', w8a8: 'int8', w4a8: 'int4', w4a16: 'int4', w4a4: 'int4' };
const FLAGS: Record<WasmBuild, string[]> = { simd: [], relaxed: ['--experimental-wasm-relaxed-simd', '--no-liftoff'] };
const CHILD_FLAGS = ['--expose-gc'];

interface Options {
  archs: string[];
  schemes: string[];
  wasm: WasmBuild[];
  children: number;
  seed: number;
  ort: boolean;
  json: boolean;
  /** Rounds of the in-process steady state (0 = not run): see steadyChild. */
  steady: number;
}

function usage(message: string): never {
  throw new Error(`${message}\nusage: coldstart [--arch A,B] [--full] [--scheme fp32,w8a8,w4a8,w4a16] [--wasm simd,relaxed] [--children N] [--steady N] [--seed N] [--no-ort] [--json]`);
}

export function parseArgs(argv: string[]): Options {
  const o: Options = { archs: [...ARCHS], schemes: ['fp32', 'w8a8', 'w4a8'], wasm: ['simd'], children: 5, seed: 0, ort: true, json: false, steady: 0 };
  let full = false;
  eachOption(argv, usage, (a, { value, int, list, builds }) => {
    switch (a) {
      case '--arch': o.archs = list(); break;
      case '--full': full = true; break;
      case '--scheme': o.schemes = list(); break;
      case '--wasm': o.wasm = builds(); break;
      case '--children': o.children = int(1); break;
      case '--steady': o.steady = int(0); break;
      case '--seed': o.seed = Number(value()); break;
      case '--no-ort': o.ort = false; break;
      case '--json': o.json = true; break;
      default: usage(`unknown option ${a}`);
    }
  });
  for (const s of o.schemes) if (!(s in ORT_FOR)) usage(`unknown scheme ${s} (fp32, w8a8, w4a8, w4a16, w4a4)`);
  if (full && !o.archs.includes(FULL_ARCH)) o.archs.push(FULL_ARCH);
  return o;
}

// --- the child: one contestant, one cold start ------------------------------------------------------------------

interface ChildSpec {
  engine: 'vitguard' | 'ort' | 'node';
  arch: string;
  scheme: string; // vitguard scheme or ORT precision
  wasm: WasmBuild;
  file: string; // model file (vitguard .safetensors, ORT .onnx); '' for node
  seed: number;
}

interface ChildResult {
  compile_ms: number;
  create_ms: number;
  /** CPU time (user + system, this process's threads) of create: less sensitive than wall time to a loaded machine. */
  create_cpu_ms: number;
  first_ms: number;
  /** The same model loaded again in the same process after dispose/release (runtime compiled, code warm). */
  create_warm_ms: number;
  create_warm_cpu_ms: number;
  first_warm_ms: number;
  peak_rss: number;
  rss_ready: number;
  rss_gc: number;
  array_buffers_gc: number;
  wasm_bytes: number | null;
  model_bytes: number;
  logits_finite: boolean;
}

/** VmHWM / VmRSS in bytes (Linux), else resourceUsage's maxRSS (KiB) for both. */
function memory(): { hwm: number; rss: number } {
  try {
    const s = readFileSync('/proc/self/status', 'utf8');
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)\\s+kB`).exec(s)?.[1]) * 1024;
    const hwm = kb('VmHWM'), rss = kb('VmRSS');
    if (hwm > 0 && rss > 0) return { hwm, rss };
  } catch { /* not Linux */ }
  const m = process.resourceUsage().maxRSS * 1024;
  return { hwm: m, rss: process.memoryUsage().rss };
}

/** The benchmark image: normalised CHW noise, the same in every child (generated before the clock starts). */
function image(n: number, seed: number): Float32Array {
  let s = (seed + 1000) >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    // mulberry32, then a cheap symmetric spread: the values only need to be O(1) and finite
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 4 - 2;
  }
  return out;
}

async function runChild(spec: ChildSpec): Promise<ChildResult> {
  const gc = (globalThis as { gc?: () => void }).gc;
  // two full collections 100 ms apart: ArrayBuffer backing stores are freed by a sweeper after the collection
  const afterGc = async () => {
    for (let i = 0; i < 2; i++) {
      gc?.();
      await new Promise((r) => setTimeout(r, 100));
    }
    return { rss: memory().rss, arrayBuffers: process.memoryUsage().arrayBuffers };
  };
  if (spec.engine === 'node') {
    const m = memory();
    const g = await afterGc();
    return { compile_ms: 0, create_ms: 0, create_cpu_ms: 0, first_ms: 0, create_warm_ms: 0, create_warm_cpu_ms: 0, first_warm_ms: 0, peak_rss: m.hwm, rss_ready: m.hwm, rss_gc: g.rss, array_buffers_gc: g.arrayBuffers, wasm_bytes: null, model_bytes: 0, logits_finite: true };
  }
  const now = () => performance.now();
  const toBytes = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (spec.engine === 'vitguard') {
    const { Engine } = await import('../sdk/engine/index.js');
    await import('../sdk/quant/index.js'); // registers the quantized kinds
    const here = fileURLToPath(new URL('.', import.meta.url));
    const wasmPath = [join(here, '..', 'build'), join(here, '..', '..', 'build')].map((d) => join(d, `vitguard.${spec.wasm}.wasm`));
    let wasmBytes: Uint8Array | null = null;
    for (const p of wasmPath) { try { wasmBytes = toBytes(readFileSync(p)); break; } catch { /* next */ } }
    if (!wasmBytes) throw new Error(`no kernel binary at ${wasmPath.join(' or ')} (npm run build:wasm)`);
    let bytes: Uint8Array | null = toBytes(readFileSync(spec.file));
    const modelBytes = bytes.byteLength;
    const t0 = now();
    const module = await WebAssembly.compile(wasmBytes as Uint8Array<ArrayBuffer>);
    const t1 = now();
    const c1 = process.cpuUsage();
    // keepModel: false, as createClassifier creates its engines: the file's bytes are not held after the layout
    const engine = await Engine.create(bytes, { wasm: spec.wasm, wasmSource: { [spec.wasm]: module }, keepModel: false });
    const t2 = now();
    const cpu = process.cpuUsage(c1);
    bytes = null; // nothing in this child holds the file now
    const ready = memory().hwm;
    const [C, S] = engine.inputShape;
    const chw = image(C * S * S, spec.seed);
    const t3 = now();
    const logits = engine.forward(chw).logits;
    const t4 = now();
    const peak = memory().hwm;
    const g = await afterGc();
    const wasmBytesHeld = engine.memoryBytes();
    engine.dispose();
    // warm: the same file again, in this process (the module compiled, the kernels' code tiered up)
    const again = toBytes(readFileSync(spec.file));
    const t5 = now();
    const c5 = process.cpuUsage();
    const warm = await Engine.create(again, { wasm: spec.wasm, wasmSource: { [spec.wasm]: module }, keepModel: false });
    const t6 = now();
    const cpuWarm = process.cpuUsage(c5);
    const same = warm.forward(chw).logits;
    const t7 = now();
    warm.dispose();
    return {
      compile_ms: t1 - t0, create_ms: t2 - t1, create_cpu_ms: (cpu.user + cpu.system) / 1000, first_ms: t4 - t3, create_warm_ms: t6 - t5, create_warm_cpu_ms: (cpuWarm.user + cpuWarm.system) / 1000,
      first_warm_ms: t7 - t6, peak_rss: peak, rss_ready: ready, rss_gc: g.rss, array_buffers_gc: g.arrayBuffers, wasm_bytes: wasmBytesHeld, model_bytes: modelBytes,
      logits_finite: logits.every(Number.isFinite) && same.every((v, i) => v === logits[i]),
    };
  }
  const { createOrtSession, initOrtRuntime } = await import('../test/oracle/ort.js');
  const bytes = toBytes(readFileSync(spec.file));
  const { configForArch } = await import('../sdk/model/arch.js');
  const c = configForArch(spec.arch);
  const chw = image(c.inChans * c.imgSize * c.imgSize, spec.seed);
  const t0 = now();
  await initOrtRuntime(1);
  const t1 = now();
  const c1 = process.cpuUsage();
  const session = await createOrtSession(bytes, [c.inChans, c.imgSize, c.imgSize], { threads: 1 });
  const t2 = now();
  const cpu = process.cpuUsage(c1);
  const ready = memory().hwm;
  const t3 = now();
  const { logits } = await session.run(chw);
  const t4 = now();
  const peak = memory().hwm;
  const g = await afterGc();
  await session.release();
  const t5 = now();
  const c5 = process.cpuUsage();
  const warm = await createOrtSession(bytes, [c.inChans, c.imgSize, c.imgSize], { threads: 1 });
  const t6 = now();
  const cpuWarm = process.cpuUsage(c5);
  await warm.run(chw);
  const t7 = now();
  await warm.release();
  return {
    compile_ms: t1 - t0, create_ms: t2 - t1, create_cpu_ms: (cpu.user + cpu.system) / 1000, first_ms: t4 - t3, create_warm_ms: t6 - t5, create_warm_cpu_ms: (cpuWarm.user + cpuWarm.system) / 1000,
    first_warm_ms: t7 - t6, peak_rss: peak, rss_ready: ready, rss_gc: g.rss, array_buffers_gc: g.arrayBuffers, wasm_bytes: null, model_bytes: bytes.byteLength, logits_finite: logits.every(Number.isFinite),
  };
}

// --- the steady state: every contestant of one arch in one child, created and released again and again --------------

interface SteadySpec { arch: string; wasm: WasmBuild; rounds: number; files: { engine: 'vitguard' | 'ort'; scheme: string; file: string }[] }
interface SteadyResult { engine: 'vitguard' | 'ort'; scheme: string; create_ms: number; create_cpu_ms: number }

/**
 * One child, both libraries loaded and ORT's runtime compiled; then 2 unmeasured and `rounds` measured rounds, each
 * creating and releasing every contestant once, the order rotating. vitguard's engines are created with keepModel:
 * false and disposed, so a later create of the same layout takes the disposed instance back (its memory already
 * faulted in: wasm.ts releaseInstance); ORT's sessions are released, its heap kept grown. The load of a model a
 * process has loaded before: what latency.ts's load_ms measured, after warm-up.
 */
async function steadyChild(spec: SteadySpec): Promise<SteadyResult[]> {
  const { Engine } = await import('../sdk/engine/index.js');
  await import('../sdk/quant/index.js');
  const { createOrtSession, initOrtRuntime } = await import('../test/oracle/ort.js');
  const { configForArch } = await import('../sdk/model/arch.js');
  const c = configForArch(spec.arch);
  if (spec.files.some((f) => f.engine === 'ort')) await initOrtRuntime(1);
  const runs = spec.files.map((f) => {
    const bytes = new Uint8Array(readFileSync(f.file));
    const create = f.engine === 'ort'
      ? async () => { const x = await createOrtSession(bytes, [c.inChans, c.imgSize, c.imgSize], { threads: 1 }); return () => x.release(); }
      : async () => { const e = await Engine.create(bytes, { wasm: spec.wasm, keepModel: false }); return async () => e.dispose(); };
    return { ...f, create, wall: [] as number[], cpu: [] as number[] };
  });
  for (let r = -2; r < spec.rounds; r++) {
    for (let j = 0; j < runs.length; j++) {
      const x = runs[(j + Math.max(r, 0)) % runs.length];
      const c0 = process.cpuUsage(), t0 = performance.now();
      const release = await x.create();
      const t = performance.now() - t0, cpu = process.cpuUsage(c0);
      await release();
      if (r >= 0) { x.wall.push(t); x.cpu.push((cpu.user + cpu.system) / 1000); }
    }
  }
  return runs.map((x) => ({ engine: x.engine, scheme: x.scheme, create_ms: r1(median(x.wall)), create_cpu_ms: r1(median(x.cpu)) }));
}

function spawnChild(spec: ChildSpec): Promise<ChildResult> {
  return runScript<ChildResult>([...CHILD_FLAGS, ...(spec.engine === 'node' ? [] : FLAGS[spec.wasm])], ['--child', JSON.stringify(spec)], `${spec.engine} ${spec.arch} ${spec.scheme}`);
}

function runScript<T>(flags: string[], args: string[], what: string): Promise<T> {
  const script = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...flags, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{') || l.startsWith('['));
      if (code !== 0 || !line) return reject(new Error(`child ${what} exited with ${code}: ${err.trim().slice(-2000)}`));
      resolve(JSON.parse(line) as T);
    });
  });
}

// --- the parent: files, children, medians -----------------------------------------------------------------------

interface Contestant extends ChildSpec {
  flags: string[];
  results: ChildResult[];
}

export interface Line {
  engine: 'vitguard' | 'ort' | 'node';
  arch: string;
  scheme: string;
  wasm: WasmBuild;
  children: number;
  flags: string[];
  model_bytes: number;
  compile_ms: number;
  create_ms: number;
  create_cpu_ms: number;
  ready_ms: number;
  first_ms: number;
  first_result_ms: number;
  create_warm_ms: number;
  create_warm_cpu_ms: number;
  first_warm_ms: number;
  peak_rss: number;
  peak_rss_net: number;
  rss_ready: number;
  rss_gc: number;
  array_buffers_gc: number;
  wasm_bytes: number | null;
  samples: Record<string, number[]>;
}

export interface SteadyLine extends SteadyResult { steady: true; arch: string; wasm: WasmBuild; rounds: number; flags: string[] }

export function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const r1 = (v: number) => Math.round(v * 10) / 10;
const mib = (b: number) => (b / 2 ** 20).toFixed(1);

async function makeFiles(opts: Options, dir: string, arch: string, say: (s: string) => void): Promise<Map<string, string>> {
  const { encodeMeta, readModel } = await import('../sdk/format/model.js');
  const { writeSafetensors } = await import('../sdk/format/safetensors.js');
  const { configForArch, defaultPreprocessing, imagenetLabels } = await import('../sdk/model/arch.js');
  const { randomCheckpoint } = await import('../sdk/model/random.js');
  const { quantizeModel } = await import('../sdk/quant/index.js');
  const { buildVitOnnx } = await import('../test/oracle/onnx-vit.js');
  const config = configForArch(arch);
  const meta = { arch, config, labels: imagenetLabels(config.numClasses), preprocessing: defaultPreprocessing(arch), scheme: { name: 'fp32' }, extra: {} };
  const tensors = randomCheckpoint(config, opts.seed);
  const fp32 = writeSafetensors(tensors, encodeMeta(meta));
  const model = readModel(fp32);
  const files = new Map<string, string>();
  for (const scheme of opts.schemes) {
    const t0 = performance.now();
    let bytes = fp32;
    if (scheme !== 'fp32') {
      const q = quantizeModel(model, { scheme });
      bytes = writeSafetensors(q.tensors, encodeMeta(q.meta));
    }
    const path = join(dir, `${arch}.${scheme}.safetensors`);
    writeFileSync(path, bytes);
    files.set(`vitguard:${scheme}`, path);
    say(`  ${arch} ${scheme}: ${mib(bytes.byteLength)} MiB (quantized in ${(performance.now() - t0).toFixed(0)} ms, not counted)`);
  }
  if (opts.ort) {
    for (const o of new Set(opts.schemes.map((s) => ORT_FOR[s]))) {
      const bytes = buildVitOnnx(tensors, config, { scheme: o });
      const path = join(dir, `${arch}.${o}.onnx`);
      writeFileSync(path, bytes);
      files.set(`ort:${o}`, path);
      say(`  ${arch} ORT ${o}: ${mib(bytes.byteLength)} MiB`);
    }
  }
  return files;
}

function toLine(c: Contestant, baseline: number): Line {
  const pick = (k: keyof ChildResult) => c.results.map((r) => r[k] as number);
  const ready = c.results.map((r) => r.compile_ms + r.create_ms);
  const firstResult = c.results.map((r) => r.compile_ms + r.create_ms + r.first_ms);
  const samples: Record<string, number[]> = {
    compile_ms: pick('compile_ms').map(r1), create_ms: pick('create_ms').map(r1), create_cpu_ms: pick('create_cpu_ms').map(r1), first_ms: pick('first_ms').map(r1),
    create_warm_ms: pick('create_warm_ms').map(r1), create_warm_cpu_ms: pick('create_warm_cpu_ms').map(r1), first_warm_ms: pick('first_warm_ms').map(r1), peak_rss: pick('peak_rss'), rss_gc: pick('rss_gc'),
  };
  const wasm = c.results[0].wasm_bytes;
  return {
    engine: c.engine, arch: c.arch, scheme: c.scheme, wasm: c.wasm, children: c.results.length, flags: c.flags,
    model_bytes: c.results[0].model_bytes,
    compile_ms: r1(median(pick('compile_ms'))), create_ms: r1(median(pick('create_ms'))), create_cpu_ms: r1(median(pick('create_cpu_ms'))), ready_ms: r1(median(ready)),
    first_ms: r1(median(pick('first_ms'))), first_result_ms: r1(median(firstResult)),
    create_warm_ms: r1(median(pick('create_warm_ms'))), create_warm_cpu_ms: r1(median(pick('create_warm_cpu_ms'))), first_warm_ms: r1(median(pick('first_warm_ms'))),
    peak_rss: median(pick('peak_rss')), peak_rss_net: median(pick('peak_rss')) - baseline, rss_ready: median(pick('rss_ready')),
    rss_gc: median(pick('rss_gc')), array_buffers_gc: median(pick('array_buffers_gc')), wasm_bytes: wasm, samples,
  };
}

/** Ratios per arch and build: vitguard against ORT at the same precision; the two targets marked met or missed. */
export function summarize(arch: string, wasm: WasmBuild, lines: Line[], steady: SteadyLine[] = []): Record<string, unknown> {
  const mine = lines.filter((l) => l.arch === arch && l.wasm === wasm);
  const steadyOf = (engine: string, scheme: string) => steady.find((l) => l.arch === arch && l.wasm === wasm && l.engine === engine && l.scheme === scheme);
  const ort = (s: string) => mine.find((l) => l.engine === 'ort' && l.scheme === s);
  const ratios: Record<string, number> = {};
  const targets: Record<string, { ratio: number; target: number; met: boolean }> = {};
  for (const v of mine.filter((l) => l.engine === 'vitguard')) {
    const o = ort(ORT_FOR[v.scheme]);
    if (!o) continue;
    const key = `vitguard_${v.scheme}/ort_${o.scheme}`;
    ratios[`${key}:ready_vs_session`] = Number((v.ready_ms / o.create_ms).toFixed(3));
    ratios[`${key}:ready_vs_runtime+session`] = Number((v.ready_ms / (o.compile_ms + o.create_ms)).toFixed(3));
    ratios[`${key}:first_result`] = Number((v.first_result_ms / o.first_result_ms).toFixed(3));
    ratios[`${key}:peak_rss`] = Number((v.peak_rss / o.peak_rss).toFixed(3));
    ratios[`${key}:peak_rss_net`] = Number((v.peak_rss_net / o.peak_rss_net).toFixed(3));
    ratios[`${key}:warm_create`] = Number((v.create_warm_ms / o.create_warm_ms).toFixed(3));
    ratios[`${key}:create_cpu`] = Number((v.create_cpu_ms / o.create_cpu_ms).toFixed(3));
    ratios[`${key}:warm_create_cpu`] = Number((v.create_warm_cpu_ms / o.create_warm_cpu_ms).toFixed(3));
    const r = v.ready_ms / o.create_ms, w = v.create_warm_ms / o.create_warm_ms;
    targets[`cold_ready_${v.scheme}<=0.5x_ort_${o.scheme}_session`] = { ratio: Number(r.toFixed(3)), target: 0.5, met: r <= 0.5 };
    targets[`warm_ready_${v.scheme}<=0.5x_ort_${o.scheme}_session`] = { ratio: Number(w.toFixed(3)), target: 0.5, met: w <= 0.5 };
    const sv = steadyOf('vitguard', v.scheme), so = steadyOf('ort', o.scheme);
    if (sv && so) {
      const q = sv.create_ms / so.create_ms;
      ratios[`${key}:steady_create_cpu`] = Number((sv.create_cpu_ms / so.create_cpu_ms).toFixed(3));
      targets[`steady_ready_${v.scheme}<=0.5x_ort_${o.scheme}_session`] = { ratio: Number(q.toFixed(3)), target: 0.5, met: q <= 0.5 };
    }
  }
  const w4 = mine.find((l) => l.engine === 'vitguard' && l.scheme === 'w4a8');
  const o8 = ort('int8');
  if (w4 && o8) {
    const r = w4.peak_rss / o8.peak_rss, rn = w4.peak_rss_net / o8.peak_rss_net;
    targets['peak_w4a8<=0.5x_ort_int8'] = { ratio: Number(r.toFixed(3)), target: 0.5, met: r <= 0.5 };
    targets['peak_net_w4a8<=0.5x_ort_int8_net'] = { ratio: Number(rn.toFixed(3)), target: 0.5, met: rn <= 0.5 };
  }
  return { summary: true, arch, wasm, node: process.version, ratios, targets };
}

function table(lines: Line[]): string {
  const head = '| arch | engine | scheme | wasm | file MiB | compile ms | create ms | create CPU ms | ready ms | first fwd ms | first result ms | warm create ms | warm create CPU ms | warm fwd ms | peak RSS MiB | net MiB | RSS after GC | ArrayBuffers after GC | wasm MiB |';
  const rows = lines.map((l) => `| ${l.arch.replace('_patch16_224', '')} | ${l.engine} | ${l.scheme} | ${l.engine === 'ort' ? 'simd' : l.wasm} | ${mib(l.model_bytes)} | ` +
    `${l.compile_ms} | ${l.create_ms} | ${l.create_cpu_ms} | **${l.ready_ms}** | ${l.first_ms} | ${l.first_result_ms} | **${l.create_warm_ms}** | ${l.create_warm_cpu_ms} | ${l.first_warm_ms} | ${mib(l.peak_rss)} | ${mib(l.peak_rss_net)} | ` +
    `${mib(l.rss_gc)} | ${mib(l.array_buffers_gc)} | ${l.wasm_bytes === null ? '' : mib(l.wasm_bytes)} |`);
  return [head, head.replace(/[^|]+/g, ' --- '), ...rows].join('\n');
}

export async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--child') {
    const res = await runChild(JSON.parse(argv[1]) as ChildSpec);
    process.stdout.write(JSON.stringify(res) + '\n');
    return;
  }
  if (argv[0] === '--steady-child') {
    process.stdout.write(JSON.stringify(await steadyChild(JSON.parse(argv[1]) as SteadySpec)) + '\n');
    return;
  }
  const opts = parseArgs(argv);
  const say = (s: string) => (opts.json ? process.stderr : process.stdout).write(s + '\n');
  const { loadavg, cpus } = await import('node:os');
  say(`coldstart: ${opts.archs.join(', ')} × [${opts.schemes}] × wasm [${opts.wasm}], ORT ${opts.ort ? 'yes' : 'no'}, ${opts.children} fresh children each, ` +
    `node ${process.version}, ${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'vitguard-coldstart-'));
  const lines: Line[] = [];
  const steady: SteadyLine[] = [];
  try {
    const contestants: Contestant[] = [{ engine: 'node', arch: '-', scheme: '-', wasm: 'simd', file: '', seed: opts.seed, flags: CHILD_FLAGS, results: [] }];
    for (const arch of opts.archs) {
      const files = await makeFiles(opts, dir, arch, say);
      for (const wasm of opts.wasm) {
        const flags = [...CHILD_FLAGS, ...FLAGS[wasm]];
        for (const scheme of opts.schemes) contestants.push({ engine: 'vitguard', arch, scheme, wasm, file: files.get(`vitguard:${scheme}`)!, seed: opts.seed, flags, results: [] });
        if (opts.ort) {
          for (const o of new Set(opts.schemes.map((s) => ORT_FOR[s]))) contestants.push({ engine: 'ort', arch, scheme: o, wasm, file: files.get(`ort:${o}`)!, seed: opts.seed, flags, results: [] });
        }
      }
    }
    for (let rep = 0; rep < opts.children; rep++) {
      for (const c of contestants) {
        const { flags: _f, results: _r, ...spec } = c;
        const res = await spawnChild(spec);
        if (!res.logits_finite) throw new Error(`${c.engine} ${c.arch} ${c.scheme}: non-finite logits`);
        c.results.push(res);
      }
      say(`  round ${rep + 1}/${opts.children} done (load average ${loadavg()[0].toFixed(2)})`);
    }
    const baseline = median(contestants[0].results.map((r) => r.peak_rss));
    for (const c of contestants) lines.push(toLine(c, baseline));
    if (opts.steady > 0) {
      for (const arch of opts.archs) {
        for (const wasm of opts.wasm) {
          const mine = contestants.filter((c) => c.arch === arch && c.wasm === wasm && c.engine !== 'node');
          const spec: SteadySpec = { arch, wasm, rounds: opts.steady, files: mine.map((c) => ({ engine: c.engine as 'vitguard' | 'ort', scheme: c.scheme, file: c.file })) };
          const res = await runScript<SteadyResult[]>(FLAGS[wasm], ['--steady-child', JSON.stringify(spec)], `steady ${arch} ${wasm}`);
          for (const r of res) steady.push({ steady: true, arch, wasm, rounds: opts.steady, flags: FLAGS[wasm], ...r });
          say(`  steady state ${arch} (${wasm}) done (load average ${loadavg()[0].toFixed(2)})`);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const summaries = opts.archs.flatMap((a) => opts.wasm.map((w) => summarize(a, w, lines, steady)));
  if (opts.json) {
    for (const l of lines) process.stdout.write(JSON.stringify(l) + '\n');
    for (const l of steady) process.stdout.write(JSON.stringify(l) + '\n');
    for (const s of summaries) process.stdout.write(JSON.stringify(s) + '\n');
  }
  say('\n' + table(lines));
  if (steady.length) {
    say(`\nSteady state (one child per arch and build, ${opts.steady} interleaved rounds after 2; median create ms, CPU ms):\n`);
    say('| arch | engine | scheme | wasm | create ms | create CPU ms |\n| --- | --- | --- | --- | --- | --- |');
    for (const l of steady) say(`| ${l.arch.replace('_patch16_224', '')} | ${l.engine} | ${l.scheme} | ${l.engine === 'ort' ? 'simd' : l.wasm} | **${l.create_ms}** | ${l.create_cpu_ms} |`);
  }
  for (const s of summaries) {
    const t = s.targets as Record<string, { ratio: number; target: number; met: boolean }>;
    say(`${s.arch} (${s.wasm}): ` + Object.entries(t).map(([k, v]) => `${k} ${v.ratio} ${v.met ? 'met' : 'MISSED'}`).join('; '));
  }
  say(`load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`coldstart: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
