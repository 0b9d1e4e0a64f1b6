// Memory stays flat: `npm run bench:memory`
// (node --expose-gc --min-semi-space-size=16 --max-semi-space-size=16 lib/bench/memory.js).
//
//   1. in-thread: 10,000 classifications by one classifier (PNG bytes of the demo samples, decoded every time)
//   2. worker pool: 10,000 classifications through createClassifier({ worker: true, workers: 2 }), 8 in flight
//   3. cycles: 500 createClassifier → classify → dispose in this thread, then --worker-cycles (50) in worker mode,
//      after 1,500 (in-thread) or as many (worker) unmeasured cycles
//
// After a warm-up (3,000 calls), each phase samples — after forcing GC — the process's resident set (RSS, which
// includes the worker threads), this isolate's JS heap, external and ArrayBuffer memory, the wasm linear memory of
// every live classifier (info().memoryBytes; both workers of the pool) and the JS heap of each worker (after a GC in
// that worker). Growth = the median of the last three samples minus the median of the first three: a leak of a few
// bytes per call shows over 10,000 calls, one GC's noise does not. Exit status 1 when any growth reaches --limit-mb
// (1 MB). A table, then one JSON line (also artifacts/memory.json).
// Why the flags: V8 grows its young generation (and so RSS, by ~16 MB per isolate) in steps during the first few
// thousand calls; a fixed 16 MB semi-space takes that heuristic out of the measurement (measured here: without it,
// RSS steps up by 17 MB at ~4,000 calls and is flat from 5,500 to 10,000; with it, flat after ~2,500).
//
//   npm run bench:memory -- --calls 10000 --warmup 3000 --cycles 500 --worker-cycles 50 --limit-mb 1 --model models/fmnist-deit3.safetensors

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClassifier, type VitguardClassifier } from '../sdk/index.js';

const ROOT = (() => {
  const here = fileURLToPath(new URL('../', import.meta.url)); // bench/ (tsx) or lib/bench/ (after tsc)
  try { readFileSync(join(here, 'package.json')); return here; } catch { return join(here, '..'); }
})();

interface Options { model: string; calls: number; warmup: number; cycles: number; workerCycles: number; limitMb: number; samples: number; out: string }

function parseArgs(argv: string[]): Options {
  const o: Options = { model: 'models/fmnist-deit3.safetensors', calls: 10_000, warmup: 3000, cycles: 500, workerCycles: 50, limitMb: 1, samples: 10, out: join(ROOT, 'artifacts', 'memory.json') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = argv[++i];
    const n = () => { const x = Number(v); if (!Number.isFinite(x) || x < 0) throw new Error(`${a} needs a non-negative number`); return x; };
    if (a === '--model') o.model = v;
    else if (a === '--calls') o.calls = Math.floor(n());
    else if (a === '--warmup') o.warmup = Math.floor(n());
    else if (a === '--cycles') o.cycles = Math.floor(n());
    else if (a === '--worker-cycles') o.workerCycles = Math.floor(n());
    else if (a === '--limit-mb') o.limitMb = n();
    else if (a === '--samples') o.samples = Math.max(3, Math.floor(n()));
    else if (a === '--out') o.out = v;
    else throw new Error(`unknown option ${a} (see the header of bench/memory.ts)`);
  }
  return o;
}

// --- sampling ---------------------------------------------------------------------------------------------------

interface Sample { at: number; rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number; wasm: number; workerHeap: number }
const METRICS = ['rss', 'heapUsed', 'external', 'arrayBuffers', 'wasm', 'workerHeap'] as const;

/** What a phase can see beyond this isolate: the wasm memory of its classifiers, the JS heaps of its workers. */
type Probe = () => Promise<{ wasm: number; workerHeap: number }>;

const gc = (globalThis as { gc?: () => void }).gc;

/** Several full GCs with turns of the event loop between them (finalizers, worker messages), then a sample. */
async function sample(at: number, probe: Probe): Promise<Sample> {
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 10));
  }
  const p = await probe();
  const m = process.memoryUsage();
  return { at, rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, ...p };
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface PhaseResult { phase: string; operations: number; seconds: number; first: Sample; last: Sample; growthBytes: Record<(typeof METRICS)[number], number>; samples: Sample[] }

function summarise(phase: string, operations: number, seconds: number, samples: Sample[]): PhaseResult {
  const head = samples.slice(0, 3), tail = samples.slice(-3);
  const growthBytes = Object.fromEntries(METRICS.map((k) => [k, median(tail.map((s) => s[k])) - median(head.map((s) => s[k]))])) as PhaseResult['growthBytes'];
  return { phase, operations, seconds, first: samples[0], last: samples[samples.length - 1], growthBytes, samples };
}

// --- the phases -------------------------------------------------------------------------------------------------

function images(): Uint8Array[] {
  const dir = join(ROOT, 'demos', 'samples');
  return readdirSync(dir).filter((f) => f.endsWith('.png')).sort().map((f) => new Uint8Array(readFileSync(join(dir, f))));
}

/** `calls` classifications, sampled `samples` times at even intervals after `warmup` calls. */
async function classifyPhase(phase: string, vg: VitguardClassifier, o: Options, inFlight: number, probe: Probe): Promise<PhaseResult> {
  const ims = images();
  let next = 0;
  const run = async (n: number) => {
    const lanes = Array.from({ length: inFlight }, async () => {
      while (n-- > 0) {
        const r = await vg.classify(ims[next++ % ims.length].slice(), { topK: 3 });
        if (!(r.top.length === 3 && Number.isFinite(r.ood.score))) throw new Error(`${phase}: a wrong result`);
      }
    });
    await Promise.all(lanes);
  };
  await run(o.warmup);
  const per = Math.ceil(o.calls / o.samples);
  const samples = [await sample(0, probe)];
  const t0 = performance.now();
  for (let done = 0; done < o.calls; done += per) {
    await run(Math.min(per, o.calls - done));
    samples.push(await sample(Math.min(done + per, o.calls), probe));
  }
  return summarise(phase, o.calls, (performance.now() - t0) / 1000, samples);
}

async function cyclesPhase(phase: string, count: number, warmup: number, make: () => Promise<VitguardClassifier>): Promise<PhaseResult> {
  const png = images()[0];
  const one = async () => {
    const vg = await make();
    const r = await vg.classify(png.slice());
    if (r.top.length < 1) throw new Error(`${phase}: no result`);
    await vg.dispose();
  };
  // RSS settles only after ~1,250 instances have come and gone, then stays flat (measured over 4,000: 91.5–92.0 MB
  // from 1,250 on): allocator pages, not a leak; the JS heap is flat throughout
  for (let i = 0; i < warmup; i++) await one();
  const every = Math.max(1, Math.ceil(count / 10));
  const none: Probe = async () => ({ wasm: 0, workerHeap: 0 });
  const samples = [await sample(0, none)];
  const t0 = performance.now();
  for (let i = 1; i <= count; i++) {
    await one();
    if (i % every === 0 || i === count) samples.push(await sample(i, none));
  }
  return summarise(phase, count, (performance.now() - t0) / 1000, samples);
}

// --- report -----------------------------------------------------------------------------------------------------

const mb = (b: number) => (b / 2 ** 20).toFixed(3);

async function main(): Promise<void> {
  if (!gc) throw new Error('run with node --expose-gc (npm run bench:memory does)');
  const o = parseArgs(process.argv.slice(2));
  const model = new Uint8Array(readFileSync(join(ROOT, o.model)));
  const results: PhaseResult[] = [];

  const local = await createClassifier({ model });
  results.push(await classifyPhase('in-thread', local, o, 1, async () => ({ wasm: (await local.info()).memoryBytes, workerHeap: 0 })));
  await local.dispose();

  const pool = await createClassifier({ model, worker: true, workers: 2 });
  // two concurrent calls land on the two workers (the pool sends each call to the least busy one); each worker runs a
  // full GC of its own heap before it answers (the flags of this process reach its worker threads)
  const hooks = pool as unknown as { _memory(): Promise<{ heapUsed: number | null; wasm: number }> };
  const poolProbe: Probe = async () => {
    const w = await Promise.all([hooks._memory(), hooks._memory()]);
    return { wasm: w[0].wasm + w[1].wasm, workerHeap: (w[0].heapUsed ?? 0) + (w[1].heapUsed ?? 0) };
  };
  results.push(await classifyPhase('worker pool (2)', pool, o, 8, poolProbe));
  await pool.dispose();

  results.push(await cyclesPhase('create/dispose in-thread', o.cycles, Math.max(o.cycles, 1500), () => createClassifier({ model })));
  if (o.workerCycles > 0) results.push(await cyclesPhase('create/dispose worker', o.workerCycles, o.workerCycles, () => createClassifier({ model, worker: true })));

  const over = results.flatMap((r) => METRICS.filter((k) => r.growthBytes[k] >= o.limitMb * 2 ** 20).map((k) => `${r.phase}: ${k} grew ${mb(r.growthBytes[k])} MB`));
  const cols = ['phase', 'ops', 's', ...METRICS.map((k) => `${k} MB (start → end, growth)`)];
  console.log(`\nmemory after warm-up, sampled after GC (${o.model}; growth = median of the last 3 samples − median of the first 3; limit ${o.limitMb} MB)`);
  console.log(`| ${cols.join(' | ')} |\n|${cols.map(() => ' --- ').join('|')}|`);
  for (const r of results) {
    const cells = METRICS.map((k) => ((k === 'wasm' && r.phase.startsWith('create')) || (k === 'workerHeap' && !r.phase.startsWith('worker')) ? 'n/a' : `${mb(r.first[k])} → ${mb(r.last[k])}, ${r.growthBytes[k] >= 0 ? '+' : ''}${mb(r.growthBytes[k])}`));
    console.log(`| ${r.phase} | ${r.operations} | ${r.seconds.toFixed(1)} | ${cells.join(' | ')} |`);
  }
  console.log(over.length ? `\nOVER THE LIMIT: ${over.join('; ')}` : `\nall growth under ${o.limitMb} MB`);
  const json = { command: `npm run bench:memory -- ${process.argv.slice(2).join(' ')}`.trim(), node: process.version, model: o.model, limitMb: o.limitMb, pass: over.length === 0, results };
  mkdirSync(join(o.out, '..'), { recursive: true });
  writeFileSync(o.out, JSON.stringify(json, null, 1) + '\n');
  console.log(JSON.stringify({ ...json, results: results.map(({ samples: _s, ...r }) => r) }));
  process.exit(over.length ? 1 : 0);
}

void main();
