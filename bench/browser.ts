// `npm run bench:browser`: the on-device bench page (demos/browser/bench.html) run headless in the three engines
// phones run — Chromium (V8), Firefox ESR (SpiderMonkey), WebKitGTK (JavaScriptCore) — through the e2e launchers
// (test/e2e/browsers.ts). Serves the demo, opens bench.html?autorun=1 with the options below in each browser, waits
// for the page to finish, and writes its JSON lines (bench/measure.ts lines with "browser", then one summary per
// arch, to which this adds "engine" and the driver's "driver_version") to artifacts/perf/browser-<engine>.jsonl.
//
//   npm run bench:browser -- [--arch deit_tiny_patch16_224,deit_small_patch16_224] [--runs 20] [--warmup 10]
//     [--browsers chromium,firefox,webkit] [--scheme fp32,w8a8,w4a8,w4a16] [--wasm simd,relaxed] [--ort fp32,int8]
//     [--threads 1] [--seed 0] [--out artifacts/perf] [--timeout 1800] [--json]
//
// A browser whose binary is missing is skipped with the apt package to install (an error under CI=true).

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { VitguardError } from '../sdk/errors.js';
import { availability, ENGINES, launch, type Engine } from '../test/e2e/browsers.js';
import type { ResultLine } from './measure.js';
import { eachOption } from './args.js';

interface Options {
  arches: string[];
  runs: number;
  warmup: number;
  browsers: Engine[];
  schemes: string;
  wasm: string;
  ort: string;
  threads: number;
  seed: number;
  out: string;
  timeoutS: number;
  json: boolean;
}

// bench/browser.ts (vitest, tsx) or lib/bench/browser.js (after tsc): the repository is the folder with package.json
const ROOT = fileURLToPath(new URL(existsSync(fileURLToPath(new URL('../package.json', import.meta.url))) ? '../' : '../../', import.meta.url));

function usage(message: string): never {
  throw new VitguardError('E_USAGE', `${message}\nusage: bench:browser [--arch A,B] [--runs N] [--warmup N] [--browsers chromium,firefox,webkit] ` +
    '[--scheme fp32,w8a8,w4a8,w4a16] [--wasm simd,relaxed] [--ort fp32,int8] [--threads N] [--seed N] [--out DIR] [--timeout S] [--json]');
}

export function parseArgs(argv: string[]): Options {
  const o: Options = {
    arches: ['deit_tiny_patch16_224'], runs: 20, warmup: 10, browsers: [...ENGINES], schemes: 'fp32,w8a8,w4a8,w4a16', wasm: 'simd,relaxed',
    ort: 'fp32,int8', threads: 1, seed: 0, out: join(ROOT, 'artifacts', 'perf'), timeoutS: 1800, json: false,
  };
  eachOption(argv, usage, (a, { value, int, list }) => {
    switch (a) {
      case '--arch': o.arches = list().map((x) => (/_patch\d+_\d+$/.test(x) ? x : `${x}_patch16_224`)); break;
      case '--runs': o.runs = int(1); break;
      case '--warmup': o.warmup = int(0); break;
      case '--browsers': {
        const b = list();
        for (const x of b) if (!(ENGINES as string[]).includes(x)) usage(`--browsers takes ${ENGINES.join(', ')}, got ${x}`);
        o.browsers = b as Engine[];
        break;
      }
      case '--scheme': o.schemes = list().join(','); break;
      case '--wasm': o.wasm = list().join(','); break;
      case '--ort': o.ort = list().join(','); break;
      case '--threads': o.threads = int(1); break;
      case '--seed': o.seed = int(0); break;
      case '--out': o.out = resolve(value()); break;
      case '--timeout': o.timeoutS = int(10); break;
      case '--json': o.json = true; break;
      default: usage(`unknown option ${a}`);
    }
  });
  return o;
}

interface PageState { phase: string; lines: ResultLine[]; summaries: Record<string, unknown>[]; error: string | null }

export interface BrowserRun {
  engine: Engine;
  version: string;
  lines: ResultLine[];
  summaries: Record<string, unknown>[];
  file: string;
}

const log = (s: string) => process.stderr.write(s + '\n');

/** Runs the page in each browser; returns what each wrote (a browser that cannot run here is reported and left out). */
export async function benchBrowsers(opts: Options): Promise<BrowserRun[]> {
  const { serve } = (await import(pathToFileURL(join(ROOT, 'demos/browser/serve.mjs')).href)) as { serve(o: { port: number }): Promise<{ url: string; close(): Promise<void> }> };
  const server = await serve({ port: 0 });
  mkdirSync(opts.out, { recursive: true });
  const done: BrowserRun[] = [];
  try {
    for (const engine of opts.browsers) {
      const a = availability(engine);
      if (!a.ok) {
        if (process.env.CI === 'true') throw new VitguardError('E_USAGE', `CI=true but ${engine} cannot run: ${a.reason}`);
        log(`bench:browser: skipping ${engine}: ${a.reason}`);
        continue;
      }
      const b = await launch(engine);
      try {
        log(`bench:browser: ${engine} (${b.version}), load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
        const lines: ResultLine[] = [];
        const summaries: Record<string, unknown>[] = [];
        for (const arch of opts.arches) {
          const q = new URLSearchParams({ arch, scheme: opts.schemes, wasm: opts.wasm, ort: opts.ort, runs: String(opts.runs), warmup: String(opts.warmup), threads: String(opts.threads), seed: String(opts.seed), autorun: '1' });
          await b.goto(`${server.url}bench.html?${q}`);
          const t0 = Date.now();
          const phase = await b.waitFor<string>(`(() => { const s = window.vitguardBench; return s && ['done', 'error'].includes(s.phase) && s.phase; })()`, opts.timeoutS * 1000);
          const s = await b.evaluate<PageState & { status: string }>(`({ ...window.vitguardBench, status: document.getElementById('status').textContent })`);
          if (phase !== 'done') throw new VitguardError('E_USAGE', `${engine}: the bench page failed on ${arch}: ${s.error ?? s.status}`);
          const errors = b.pageErrors();
          if (errors?.length) throw new VitguardError('E_USAGE', `${engine}: uncaught errors in the bench page: ${errors.join('; ')}`);
          lines.push(...s.lines);
          summaries.push(...s.summaries.map((x) => ({ ...x, engine, driver_version: b.version, loadavg: loadavg().map((v) => Number(v.toFixed(2))) })));
          log(`bench:browser: ${engine} ${arch}: ${s.status} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
        }
        const file = join(opts.out, `browser-${engine}.jsonl`);
        writeFileSync(file, [...lines, ...summaries].map((l) => JSON.stringify(l)).join('\n') + '\n');
        done.push({ engine, version: b.version, lines, summaries, file });
      } finally {
        await b.close();
      }
    }
  } finally {
    await server.close();
  }
  return done;
}

/** One table over every browser: median ms and the ratios against ORT fp32 and int8, per arch and group. */
export function table(runs: BrowserRun[]): string {
  const rows: string[] = ['| browser | arch | build | contestant | median ms | p90 ms | × ORT fp32 | × ORT int8 | load ms |', '| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |'];
  for (const r of runs) {
    for (const l of r.lines) {
      const base = (s: string) => r.lines.find((x) => x.engine === 'ort' && x.scheme === s && x.group === l.group && x.arch === l.arch);
      const ratio = (s: string) => (base(s) ? (l.median_ms / base(s)!.median_ms).toFixed(2) : '—');
      rows.push(`| ${r.engine} | ${l.arch.replace(/_patch16_224$/, '')} | ${l.group} | ${l.engine === 'ort' ? 'ORT' : 'vitguard'} ${l.scheme} | ${l.median_ms.toFixed(1)} | ${l.p90_ms.toFixed(1)} | ${ratio('fp32')} | ${ratio('int8')} | ${l.load_ms.toFixed(0)} |`);
    }
  }
  return rows.join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const opts = parseArgs(argv);
  log(`bench:browser: ${opts.arches.join(', ')} in ${opts.browsers.join(', ')}; vitguard [${opts.schemes}] × [${opts.wasm}], ORT [${opts.ort}], ` +
    `${opts.warmup} warm-up + ${opts.runs} runs; this machine: ${cpus()[0]?.model ?? '?'} × ${cpus().length}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const runs = await benchBrowsers(opts);
  if (opts.json) for (const r of runs) for (const l of [...r.lines, ...r.summaries]) process.stdout.write(JSON.stringify(l) + '\n');
  else process.stdout.write(table(runs) + '\n');
  for (const r of runs) log(`bench:browser: ${r.engine} → ${r.file}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`bench:browser: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
