// `npm run fuzz`: seeded mutation fuzzing of model files and images (test/fuzz/README.md says what is mutated).
//
//   npm run fuzz                                    10,000 model cases, then 10,000 image cases, seed 1
//   npm run fuzz -- --kind image --cases 500 --seed 7 --jobs 2
//
// Cases run in child processes (child.ts), `--jobs` of them, each with a watchdog here: a case that does not finish
// within --hang-ms gets its process killed and is reported as a hang; a process that grows past --kill-mb is killed
// and its case reported; a process that dies takes only its current case with it (the rest of its chunk is
// re-queued on a fresh one). A case fails when it ends in anything but a correct result or a typed VitguardError,
// takes longer than --time-ms, or needs more than --mem-mb over what its process held when it started (peak RSS).
// Every failing input is written to test/fixtures/fuzz/<kind>-<hash>.bin with a .json note (at most
// --keep-per-bug per distinct failure), where `npm test` replays it (test/fuzz/fuzz.test.ts).
// Exit status: 0 when no case failed, 1 otherwise.

import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCase } from './cases.js';
import type { CaseReport, ChunkDone, RunChunk } from './child.js';
import type { FuzzKind } from './rng.js';
import { ROOT } from './seeds.js';

interface Options {
  kinds: FuzzKind[];
  cases: number;
  seed: number;
  start: number;
  jobs: number;
  timeMs: number;
  hangMs: number;
  memMb: number;
  killMb: number;
  out: string;
  keepPerBug: number;
  json: string | null;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    kinds: ['model', 'image'], cases: 10_000, seed: 1, start: 0, jobs: 1, timeMs: 5000, hangMs: 30_000, memMb: 384, killMb: 3072,
    out: join(ROOT, 'test', 'fixtures', 'fuzz'), keepPerBug: 3, json: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) usage(`${a} needs a value`);
      return x;
    };
    const n = () => {
      const x = Number(v());
      if (!Number.isFinite(x) || x < 0) usage(`${a} needs a non-negative number`);
      return x;
    };
    switch (a) {
      case '--kind': { const k = v(); if (k !== 'model' && k !== 'image' && k !== 'all') usage('--kind is model, image or all'); o.kinds = k === 'all' ? ['model', 'image'] : [k]; break; }
      case '--cases': o.cases = Math.floor(n()); break;
      case '--seed': o.seed = Math.floor(n()); break;
      case '--start': o.start = Math.floor(n()); break;
      case '--jobs': o.jobs = Math.max(1, Math.floor(n())); break;
      case '--time-ms': o.timeMs = n(); break;
      case '--hang-ms': o.hangMs = n(); break;
      case '--mem-mb': o.memMb = n(); break;
      case '--kill-mb': o.killMb = n(); break;
      case '--out': o.out = v(); break;
      case '--keep-per-bug': o.keepPerBug = Math.floor(n()); break;
      case '--json': o.json = v(); break;
      case '--help': case '-h': usage();
      // falls through (usage exits)
      default: usage(`unknown option ${a}`);
    }
  }
  return o;
}

function usage(problem?: string): never {
  if (problem) console.error(`fuzz: ${problem}`);
  console.error(`usage: npm run fuzz -- [--kind model|image|all] [--cases N] [--seed S] [--start I] [--jobs J]
       [--time-ms MS] [--hang-ms MS] [--mem-mb MB] [--kill-mb MB] [--out DIR] [--keep-per-bug N] [--json FILE]`);
  process.exit(problem ? 2 : 0);
}

// --- bookkeeping --------------------------------------------------------------------------------------------------

interface Failure { index: number; reason: string; ms?: number; peakMb?: number }

interface KindStats {
  kind: FuzzKind;
  cases: number;
  ok: number;
  errors: Record<string, number>;
  failures: Failure[];
  ms: number[];
  maxPeakMb: number;
  maxPeakIndex: number;
  wallS: number;
  leakCheck: { first?: ChunkDone; last?: ChunkDone };
}

/** A failure's reason with its numbers blanked: failures of the same bug share it. */
const signature = (reason: string) => reason.replace(/\d+(\.\d+)?(e[+-]?\d+)?/g, 'N').replace(/"[^"]*"/g, '"…"').slice(0, 120);

function recordFailure(o: Options, st: KindStats, f: Failure, written: Map<string, number>): void {
  st.failures.push(f);
  const sig = signature(f.reason);
  const count = written.get(sig) ?? 0;
  if (count >= o.keepPerBug) return;
  written.set(sig, count + 1);
  let c: ReturnType<typeof generateCase>;
  try {
    c = generateCase(st.kind, o.seed, f.index);
  } catch {
    return; // a fuzzer bug, reported with the failure; there is no input to keep
  }
  const hash = createHash('sha256').update(c.bytes).digest('hex').slice(0, 12);
  mkdirSync(o.out, { recursive: true });
  const base = join(o.out, `${st.kind}-${hash}`);
  if (existsSync(`${base}.bin`)) return;
  writeFileSync(`${base}.bin`, c.bytes);
  writeFileSync(`${base}.json`, JSON.stringify({
    kind: st.kind, failure: f.reason, found: `npm run fuzz -- --kind ${st.kind} --seed ${o.seed} --start ${f.index} --cases 1`,
    seed: o.seed, index: f.index, from: c.from, mutations: c.mutations, bytes: c.bytes.length, ms: f.ms, peakMb: f.peakMb,
  }, null, 1) + '\n');
  console.error(`  wrote ${base}.bin (${f.reason.slice(0, 100)})`);
}

// --- the pool of child processes ----------------------------------------------------------------------------------

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));
const CHUNK = 25;

function procRssMb(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

async function runKind(o: Options, kind: FuzzKind, written: Map<string, number>): Promise<KindStats> {
  const st: KindStats = { kind, cases: 0, ok: 0, errors: {}, failures: [], ms: [], maxPeakMb: 0, maxPeakIndex: -1, wallS: 0, leakCheck: {} };
  const queue: Array<[number, number]> = [];
  for (let a = o.start; a < o.start + o.cases; a += CHUNK) queue.push([a, Math.min(a + CHUNK, o.start + o.cases)]);
  const t0 = performance.now();
  let lastPrint = 0;

  await new Promise<void>((resolveAll) => {
    let live = 0;
    const progress = () => {
      const now = performance.now();
      if (now - lastPrint < 5000 && st.cases < o.cases) return;
      lastPrint = now;
      const codes = Object.entries(st.errors).sort((x, y) => y[1] - x[1]).slice(0, 4).map(([k, v]) => `${k} ${v}`).join(', ');
      console.error(`  ${kind}: ${st.cases}/${o.cases} cases, ${st.ok} ok, ${st.failures.length} failed; ${codes} (${((now - t0) / 1000).toFixed(0)} s)`);
    };

    const startChild = () => {
      const chunk = queue.shift();
      if (!chunk) {
        if (live === 0) resolveAll();
        return;
      }
      live++;
      const child: ChildProcess = fork(CHILD, [], { execArgv: ['--expose-gc', '--max-old-space-size=2048'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
      let current: [number, number] = chunk;
      let next = chunk[0]; // the case running now
      let lastSign = performance.now();
      let ended = false;

      const finish = (why: string | null) => {
        if (ended) return;
        ended = true;
        clearInterval(watch);
        if (why !== null && next < current[1]) {
          // the case that was running is the culprit; the rest of its chunk goes back on the queue
          recordFailure(o, st, { index: next, reason: why }, written);
          st.cases++;
          if (next + 1 < current[1]) queue.unshift([next + 1, current[1]]);
        }
        live--;
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        startChild();
      };

      const watch = setInterval(() => {
        const rss = child.pid ? procRssMb(child.pid) : 0;
        if (rss > o.killMb) finish(`memory: the process grew to ${rss.toFixed(0)} MB (limit ${o.killMb} MB) during the case`);
        else if (performance.now() - lastSign > o.hangMs) finish(`hang: no answer within ${o.hangMs} ms`);
      }, 100);

      child.on('exit', (code, signal) => finish(`crash: the process exited (code ${code}, signal ${signal}) during the case${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`));
      child.on('message', (m: CaseReport | ChunkDone | { type: 'ready' }) => {
        lastSign = performance.now();
        if (m.type === 'ready') {
          child.send({ type: 'run', kind, seed: o.seed, from: current[0], to: current[1] } satisfies RunChunk);
          return;
        }
        if (m.type === 'chunk') {
          st.leakCheck.first ??= m;
          st.leakCheck.last = m;
          const more = queue.shift();
          if (!more) { ended = true; clearInterval(watch); child.send({ type: 'exit' }); live--; if (live === 0 && queue.length === 0) resolveAll(); return; }
          current = more;
          next = more[0];
          child.send({ type: 'run', kind, seed: o.seed, from: more[0], to: more[1] } satisfies RunChunk);
          return;
        }
        next = m.index + 1;
        st.cases++;
        st.ms.push(m.ms);
        const peakMb = (m.peakKb - m.startKb) / 1024;
        if (peakMb > st.maxPeakMb) { st.maxPeakMb = peakMb; st.maxPeakIndex = m.index; }
        if (m.status === 'ok') st.ok++;
        else if (m.status === 'error') st.errors[m.code!] = (st.errors[m.code!] ?? 0) + 1;
        if (m.status === 'fail') recordFailure(o, st, { index: m.index, reason: m.reason!, ms: m.ms, peakMb }, written);
        else if (m.ms > o.timeMs) recordFailure(o, st, { index: m.index, reason: `slow: took ${m.ms.toFixed(0)} ms (limit ${o.timeMs} ms)`, ms: m.ms, peakMb }, written);
        else if (peakMb > o.memMb) recordFailure(o, st, { index: m.index, reason: `memory: peak ${peakMb.toFixed(0)} MB over the process's size at the start (limit ${o.memMb} MB)`, ms: m.ms, peakMb }, written);
        progress();
      });
    };
    for (let j = 0; j < Math.min(o.jobs, queue.length); j++) startChild();
    if (queue.length === 0 && live === 0) resolveAll();
  });
  st.wallS = (performance.now() - t0) / 1000;
  return st;
}

// --- report -------------------------------------------------------------------------------------------------------

function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const written = new Map<string, number>();
  const report: Record<string, unknown>[] = [];
  const cmd = `npm run fuzz -- ${process.argv.slice(2).join(' ')}`.trim();
  console.error(`fuzz: ${o.kinds.join(' + ')}, ${o.cases} cases each from ${o.start}, seed ${o.seed}, ${o.jobs} process(es); ` +
    `per case ≤ ${o.timeMs} ms and ≤ ${o.memMb} MB peak growth; hang after ${o.hangMs} ms`);
  for (const kind of o.kinds) {
    const st = await runKind(o, kind, written);
    const bugs = new Map<string, number>();
    for (const f of st.failures) bugs.set(signature(f.reason), (bugs.get(signature(f.reason)) ?? 0) + 1);
    const r = {
      kind, seed: o.seed, start: o.start, cases: st.cases, ok: st.ok,
      typedErrors: Object.values(st.errors).reduce((a, b) => a + b, 0), errorCodes: st.errors,
      failures: st.failures.length, distinctFailures: Object.fromEntries(bugs),
      wallSeconds: Number(st.wallS.toFixed(1)), caseMs: { p50: quantile(st.ms, 0.5), p99: quantile(st.ms, 0.99), max: Math.max(0, ...st.ms) },
      maxPeakGrowthMb: Number(st.maxPeakMb.toFixed(1)), maxPeakCase: st.maxPeakIndex,
      childMemory: st.leakCheck.first && st.leakCheck.last ? {
        afterFirstChunkMb: { heap: st.leakCheck.first.heapKb / 1024, arrayBuffers: st.leakCheck.first.arrayBuffersKb / 1024, rss: st.leakCheck.first.rssKb / 1024 },
        afterLastChunkMb: { heap: st.leakCheck.last.heapKb / 1024, arrayBuffers: st.leakCheck.last.arrayBuffersKb / 1024, rss: st.leakCheck.last.rssKb / 1024 },
      } : null,
      limits: { timeMs: o.timeMs, memMb: o.memMb, hangMs: o.hangMs, killMb: o.killMb },
    };
    report.push(r);
    console.log(`\n${kind}: ${st.cases} cases in ${r.wallSeconds} s — ${st.ok} correct results, ${r.typedErrors} typed errors, ${st.failures.length} failures`);
    console.log(`  error codes: ${Object.entries(st.errors).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
    console.log(`  per case: p50 ${r.caseMs.p50.toFixed(1)} ms, p99 ${r.caseMs.p99.toFixed(1)} ms, max ${r.caseMs.max.toFixed(0)} ms; largest peak growth ${r.maxPeakGrowthMb} MB (case ${r.maxPeakCase})`);
    for (const [sig, n] of bugs) console.log(`  FAIL ×${n}: ${sig}`);
  }
  const out = { command: cmd, node: process.version, results: report };
  if (o.json) writeFileSync(o.json, JSON.stringify(out, null, 1) + '\n');
  console.log(JSON.stringify(out));
  process.exit(report.some((r) => (r.failures as number) > 0) ? 1 : 0);
}

void main();
