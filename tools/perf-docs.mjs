// `npm run perf:docs`: regenerates docs/performance.md and docs/performance.svg from one set of measurements on this
// machine — Node latency against onnxruntime-web (npm run bench), 1 vs 2 threads, the per-op profile with its
// instruction ceilings, cold start and peak memory (bench/coldstart.ts), and the on-device bench in the browsers
// (npm run bench:browser's artifacts/perf/browser-<engine>.jsonl, or run now with --browsers). Each source is run as
// its own child process; one that is missing or fails is named in the document with its reason, and the rest is
// still written. Raw JSON lines of every source land in artifacts/perf/.
//
//   npm run perf:docs -- [--quick] [--full] [--browsers chromium,firefox,webkit] [--skip threads,profile,coldstart]
//                        [--runs N] [--warmup N] [--out docs/performance.md]
//
//   --quick     few runs (3 timed, 2 warm-up; 1 cold-start child): for trying the generator, not for the numbers
//   --full      vit_base_patch16_224 too (minutes more: ORT needs seconds per session at that size)
//   --browsers  run the bench page in these browsers now (same runs); without it the last browser-*.jsonl are read
//   --skip      leave sources out: latency, threads, critical (bench:threads), profile, coldstart, browsers
//   --reuse     measure nothing: write the document from the last run's artifacts/perf/*.jsonl

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PERF = join(ROOT, 'artifacts', 'perf');
const ARCHS = ['deit_tiny_patch16_224', 'deit_small_patch16_224'];
const FULL_ARCH = 'vit_base_patch16_224';
const SCHEMES = 'fp32,w8a8,w4a8,w4a16';
const SOURCES = ['latency', 'threads', 'critical', 'profile', 'coldstart', 'browsers'];

// --- options -------------------------------------------------------------------------------------------------------

export function parseArgs(argv) {
  const o = { quick: false, full: false, reuse: false, browsers: null, skip: new Set(), runs: null, warmup: null, out: join(ROOT, 'docs', 'performance.md') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (argv[i + 1] === undefined) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const list = () => value().split(',').map((s) => s.trim()).filter(Boolean);
    switch (a) {
      case '--quick': o.quick = true; break;
      case '--full': o.full = true; break;
      case '--browsers': o.browsers = list(); break;
      case '--skip': for (const s of list()) { if (!SOURCES.includes(s)) throw new Error(`--skip takes ${SOURCES.join(', ')}, got ${s}`); o.skip.add(s); } break;
      case '--runs': o.runs = Number(value()); break;
      case '--warmup': o.warmup = Number(value()); break;
      case '--out': o.out = resolve(value()); break;
      case '--reuse': o.reuse = true; break;
      default: throw new Error(`unknown option ${a}\nusage: perf-docs [--quick] [--full] [--reuse] [--browsers chromium,firefox,webkit] [--skip ${SOURCES.join(',')}] [--runs N] [--warmup N] [--out FILE]`);
    }
  }
  o.runs ??= o.quick ? 3 : 25;
  o.warmup ??= o.quick ? 2 : 15;
  o.archs = o.full ? [...ARCHS, FULL_ARCH] : ARCHS;
  o.argv = argv.filter((a, i) => a !== '--out' && argv[i - 1] !== '--out'); // the command as the document shows it
  return o;
}

// --- running the sources -------------------------------------------------------------------------------------------

const log = (s) => process.stderr.write(`perf-docs: ${s}\n`);
const load = () => loadavg().map((x) => Number(x.toFixed(2)));

/** Run node with args; resolves to { ok, lines (parsed JSON lines of stdout), stderr tail, ms, load before/after }. */
function runNode(args, what) {
  const t0 = Date.now();
  const before = load();
  log(`${what}: node ${args.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; process.stderr.write(d); });
    child.on('close', (code) => {
      const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      const tail = err.trim().split('\n').slice(-3).join(' / ');
      resolve({ ok: code === 0, code, lines, error: code === 0 ? null : tail || `exit code ${code}`, ms: Date.now() - t0, load: [before, load()], command: `node ${args.join(' ')}` });
    });
  });
}

const lib = (p) => join(ROOT, 'lib', p);
const has = (p) => existsSync(lib(p));

/** Every measurement this run takes; each entry: { name, status: 'ok'|'absent'|'failed', reason?, lines, command, ms, load }. */
async function measure(o) {
  mkdirSync(PERF, { recursive: true });
  const results = {};
  const record = (name, r, file) => {
    results[name] = r;
    if (r.lines?.length && file) writeFileSync(join(PERF, file), r.lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  };
  const absent = (name, reason) => { results[name] = { name, status: 'absent', reason, lines: [] }; log(`${name}: absent: ${reason}`); };
  const runs = ['--runs', String(o.runs), '--warmup', String(o.warmup)];
  if (o.reuse) {
    // what the measuring run recorded about each source (time, load, command), where it left it
    const runPath = join(PERF, 'perf-docs-run.json');
    const run = existsSync(runPath) ? JSON.parse(readFileSync(runPath, 'utf8')) : { sources: {} };
    o.measured = run;
    for (const [name, file] of [['latency', 'node-latency.jsonl'], ['threads', 'node-threads.jsonl'], ['critical', 'node-threads-critical.jsonl'], ['profile', 'node-profile.jsonl'], ['coldstart', 'node-coldstart.jsonl']]) {
      const path = join(PERF, file);
      if (o.skip.has(name) || !existsSync(path)) { absent(name, o.skip.has(name) ? `skipped (--skip ${name})` : `--reuse: no ${relative(ROOT, path)}`); continue; }
      const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      const meta = run.sources?.[name] ?? {};
      const how = meta.argv ? `\`perf:docs -- ${meta.argv.join(' ')}\` at ${meta.commit}, ${meta.date}` : `${relative(ROOT, path)} of ${statSync(path).mtime.toISOString()}`;
      results[name] = { ...meta, name, status: 'ok', lines, reason: meta.reason ? `${meta.reason}; ${how}` : how };
    }
    o.browsers = null;
  }

  if (o.reuse) { /* read above */ } else if (o.skip.has('latency')) absent('latency', 'skipped (--skip latency)');
  else {
    const lines = [];
    const parts = [];
    for (const arch of o.archs) {
      const r = await runNode(['--no-liftoff', lib('bench/latency.js'), '--arch', arch, '--scheme', SCHEMES, '--wasm', 'simd,relaxed', '--ort', 'fp32,int8,int4', ...runs, '--json'], `latency ${arch}`);
      parts.push(r);
      lines.push(...r.lines);
    }
    const failed = parts.filter((p) => !p.ok);
    record('latency', { name: 'latency', status: failed.length === parts.length ? 'failed' : 'ok', reason: failed.length ? `failed in part: ${failed.map((p) => p.error).join('; ')}` : null, lines, command: parts.map((p) => p.command), ms: parts.reduce((a, p) => a + p.ms, 0), load: [parts[0].load[0], parts.at(-1).load[1]] }, 'node-latency.jsonl');
  }

  if (o.reuse) { /* read above */ } else if (o.skip.has('threads')) absent('threads', 'skipped (--skip threads)');
  else {
    const lines = [];
    const parts = [];
    for (const arch of o.archs.filter((a) => a !== FULL_ARCH)) {
      const r = await runNode(['--no-liftoff', lib('bench/latency.js'), '--arch', arch, '--scheme', 'fp32,w8a8,w4a8', '--wasm', 'simd,relaxed', '--ort', 'fp32,int8', '--threads', '1,2', ...runs, '--json'], `threads ${arch}`);
      parts.push(r);
      lines.push(...r.lines);
      if (!r.ok) break; // the same reason would stop the next size
    }
    const failed = parts.filter((p) => !p.ok);
    const ok = failed.length === 0 && lines.some((l) => !l.summary && l.threads > 1);
    record('threads', { name: 'threads', status: ok ? 'ok' : 'failed', reason: failed.map((p) => p.error).join('; ') || (ok ? null : 'no line with threads > 1 came back'), lines, command: parts.map((p) => p.command), ms: parts.reduce((a, p) => a + p.ms, 0), load: [parts[0].load[0], parts.at(-1).load[1]] }, 'node-threads.jsonl');
  }

  if (o.reuse) { /* read above */ } else if (o.skip.has('critical')) absent('critical', 'skipped (--skip critical)');
  else if (!has('bench/threads.js')) absent('critical', 'bench/threads.ts (npm run bench:threads) is not in this checkout yet');
  else {
    // bench:threads: 1 vs 2 threads in one process, and the 2-thread forward's critical path on the CPU clock (what two
    // free cores would give: the measure that means something on a busy machine)
    const lines = [];
    const parts = [];
    for (const arch of o.archs.filter((a) => a !== FULL_ARCH)) {
      for (const [wasm, flags] of [['simd', ['--no-liftoff']], ['relaxed', ['--experimental-wasm-relaxed-simd', '--no-liftoff']]]) {
        const r = await runNode([...flags, lib('bench/threads.js'), '--arch', arch, '--scheme', 'fp32,w8a8,w4a8', '--wasm', wasm, '--threads', '2', ...runs], `threads critical path ${arch} ${wasm}`);
        parts.push(r);
        lines.push(...r.lines);
      }
    }
    const failed = parts.filter((p) => !p.ok);
    record('critical', { name: 'critical', status: failed.length === parts.length ? 'failed' : 'ok', reason: failed.length ? `failed in part: ${failed.map((p) => p.error).join('; ')}` : null, lines, command: parts.map((p) => p.command), ms: parts.reduce((a, p) => a + p.ms, 0), load: [parts[0].load[0], parts.at(-1).load[1]] }, 'node-threads-critical.jsonl');
  }

  if (o.reuse) { /* read above */ } else if (o.skip.has('profile')) absent('profile', 'skipped (--skip profile)');
  else if (!has('bench/profile.js')) absent('profile', 'bench/profile.ts is not in this checkout yet (npm run bench -- --profile)');
  else {
    const r = await runNode(['--no-liftoff', lib('bench/latency.js'), '--profile', '--arch', o.archs.join(','), '--scheme', SCHEMES, '--wasm', 'simd,relaxed', ...runs, '--json'], 'profile');
    record('profile', { name: 'profile', status: r.ok ? 'ok' : 'failed', reason: r.error, lines: r.lines, command: [r.command], ms: r.ms, load: r.load }, 'node-profile.jsonl');
  }

  if (o.reuse) { /* read above */ } else if (o.skip.has('coldstart')) absent('coldstart', 'skipped (--skip coldstart)');
  else if (!has('bench/coldstart.js')) absent('coldstart', 'bench/coldstart.ts is not in this checkout yet');
  else {
    const r = await runNode([lib('bench/coldstart.js'), '--arch', o.archs.join(','), '--scheme', SCHEMES, '--wasm', 'simd,relaxed', '--children', o.quick ? '1' : '5', '--json'], 'coldstart');
    record('coldstart', { name: 'coldstart', status: r.ok ? 'ok' : 'failed', reason: r.error, lines: r.lines, command: [r.command], ms: r.ms, load: r.load }, 'node-coldstart.jsonl');
  }

  if (o.skip.has('browsers')) absent('browsers', 'skipped (--skip browsers)');
  else {
    if (o.browsers) {
      const b = await runNode([join(ROOT, 'demos/browser/build-bench.mjs')], 'bench page build');
      const r = b.ok
        ? await runNode([lib('bench/browser.js'), '--browsers', o.browsers.join(','), '--arch', o.archs.join(','), ...runs, '--json'], 'browsers')
        : b;
      if (!r.ok) log(`browsers: ${r.error}; reading what browser-*.jsonl there are`);
      results.browsersRun = { status: r.ok ? 'ok' : 'failed', reason: r.error, command: [r.command], ms: r.ms, load: r.load };
    }
    const files = existsSync(PERF) ? readdirSync(PERF).filter((f) => /^browser-[a-z]+\.jsonl$/.test(f)).sort() : [];
    const lines = [];
    const fileInfo = [];
    for (const f of files) {
      const path = join(PERF, f);
      const ls = readFileSync(path, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      const engine = f.replace(/^browser-|\.jsonl$/g, '');
      for (const l of ls) l.engine_name = engine;
      lines.push(...ls);
      fileInfo.push({ file: relative(ROOT, path), engine, mtime: statSync(path).mtime.toISOString(), runs: ls.find((l) => !l.summary)?.runs });
    }
    if (!files.length) absent('browsers', `no artifacts/perf/browser-*.jsonl: run \`npm run bench:browser\` (or perf:docs --browsers chromium,firefox,webkit)`);
    else results.browsers = { name: 'browsers', status: 'ok', lines, files: fileInfo, reason: results.browsersRun?.status === 'failed' ? `this run's bench:browser failed (${results.browsersRun.reason}); older files were read` : null };
  }
  if (!o.reuse) {
    // per source: how it was measured, kept across runs that skip it (so --reuse can say when each was measured)
    const runPath = join(PERF, 'perf-docs-run.json');
    const before = existsSync(runPath) ? JSON.parse(readFileSync(runPath, 'utf8')) : { sources: {} };
    const m = machine();
    const sources = { ...before.sources };
    for (const [k, r] of Object.entries(results)) {
      if (r.status === 'absent' && /skipped/.test(r.reason ?? '')) continue;
      sources[k] = { status: r.status, reason: r.reason ?? null, ms: r.ms, load: r.load, command: r.command, argv: o.argv, runs: o.runs, warmup: o.warmup, commit: m.commit, date: m.date };
    }
    writeFileSync(runPath, JSON.stringify({ argv: o.argv, runs: o.runs, warmup: o.warmup, loadStart: o.loadStart, loadEnd: load(), commit: m.commit, date: m.date, sources }, null, 1) + '\n');
  }
  return results;
}

// --- the machine ---------------------------------------------------------------------------------------------------

function machine() {
  const c = cpus();
  let cpu = c[0]?.model?.trim() ?? 'unknown';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    cpu = info.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? cpu;
  } catch { /* not Linux */ }
  const git = (args) => { try { return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim(); } catch { return null; } };
  const ortVersion = JSON.parse(readFileSync(join(ROOT, 'node_modules/onnxruntime-web/package.json'), 'utf8')).version;
  return {
    cpu, cores: c.length, memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`, kernel: `${process.platform} ${release()}`,
    node: process.version, ort: ortVersion, commit: git(['rev-parse', '--short', 'HEAD']), date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

// --- markdown ------------------------------------------------------------------------------------------------------

const short = (arch) => arch.replace(/_patch\d+_\d+$/, '');
const f1 = (v) => (v === undefined || v === null ? '—' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const r2 = (v) => (v === undefined || v === null || !Number.isFinite(v) ? '—' : v.toFixed(2));
const mib = (b) => (b === undefined || b === null ? '—' : (b / 2 ** 20).toFixed(1));
const table = (head, rows, align) => [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (align?.[i] === 'l' || (!align && i === 0) ? ' --- |' : ' ---: |')).join('')}`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

/**
 * One latency table for one arch and one place (Node, or a browser): a row per contestant, and per group (simd,
 * relaxed) its median (p90) and the ratios against ORT fp32 and int8 measured in that group.
 */
/** A contestant's name: engine and scheme, and the attention path where a line names int8 attention. */
const who = (l) => `${l.engine === 'ort' ? 'ORT' : 'vitguard'} ${l.scheme}${l.attention === 'int8' ? '+attn_int8' : ''}`;

function latencyTable(lines) {
  const groups = [...new Set(lines.map((l) => l.group))];
  const names = [...new Set(lines.map(who))];
  const head = ['contestant', ...groups.flatMap((g) => [`${g}: median (p90) ms`, '× ORT fp32', '× ORT int8']), 'file MiB', 'load ms', 'Δlogit/max'];
  // Δlogit/max: max |logit − ORT fp32's| / max |ORT fp32 logit| on the same image
  const rows = names.map((n) => {
    const cells = groups.flatMap((g) => {
      const l = lines.find((x) => x.group === g && who(x) === n);
      const base = (s) => lines.find((x) => x.group === g && x.engine === 'ort' && x.scheme === s);
      if (!l) return ['—', '—', '—'];
      const ratio = (s) => (base(s) ? r2(l.median_ms / base(s).median_ms) : '—');
      return [`${f1(l.median_ms)} (${f1(l.p90_ms)})`, ratio('fp32'), ratio('int8')];
    });
    const any = lines.find((x) => who(x) === n);
    return [n, ...cells, mib(any.model_bytes), f1(any.load_ms), any.logit_rel_err === 0 ? '0' : any.logit_rel_err.toExponential(1)];
  });
  return table(head, rows);
}

function threadsTable(lines) {
  const rows = [];
  for (const arch of [...new Set(lines.map((l) => l.arch))]) {
    for (const group of [...new Set(lines.filter((l) => l.arch === arch).map((l) => l.group))]) {
      const g = lines.filter((l) => l.arch === arch && l.group === group);
      for (const n of [...new Set(g.map(who))]) {
        const one = g.find((l) => who(l) === n && l.threads === 1);
        const more = g.filter((l) => who(l) === n && l.threads > 1);
        for (const m of more) rows.push([short(arch), group, n, f1(one?.median_ms), `${m.threads}`, f1(m.median_ms), one ? r2(m.median_ms / one.median_ms) : '—']);
      }
    }
  }
  return table(['arch', 'build', 'contestant', '1 thread ms', 'threads', 'ms', '× 1 thread'], rows, ['l', 'l', 'l']);
}

function coldstartTable(lines) {
  // group: the process flags (relaxed: --experimental-wasm-relaxed-simd --no-liftoff), ORT's own binary being simd in both
  const rows = lines.filter((l) => !l.summary && l.engine !== 'node').map((l) => [short(l.arch), `${l.engine === 'ort' ? 'ORT' : 'vitguard'} ${l.scheme}`, l.wasm,
    mib(l.model_bytes), f1(l.compile_ms), f1(l.create_ms), f1(l.ready_ms), f1(l.first_ms), f1(l.first_result_ms), f1(l.create_warm_ms), mib(l.peak_rss), mib(l.peak_rss_net), l.wasm_bytes ? mib(l.wasm_bytes) : '—']);
  const node = lines.find((l) => l.engine === 'node');
  return table(['arch', 'contestant', 'group', 'file MiB', 'compile ms', 'create ms', 'ready ms', 'first forward ms', 'first result ms', 'warm create ms', 'peak RSS MiB', 'net of bare node MiB', 'wasm memory MiB'], rows, ['l', 'l', 'l'])
    + (node ? `\n\nA bare \`node\` child (imports nothing) peaks at ${mib(node.peak_rss)} MiB here; "net" subtracts it.` : '');
}

/** Every target, from every source that has one: [{ where, name, group, detail, met }] */
async function allTargets(res) {
  const { latencyTargets } = await import(pathToFileURL(lib('bench/targets.js')).href);
  const out = [];
  const coldOk = res.coldstart?.status === 'ok' && res.coldstart.lines.some((l) => l.summary);
  const lat = (res.latency?.lines ?? []).filter((l) => !l.summary);
  for (const t of latencyTargets(lat)) {
    if (coldOk && t.name.startsWith('load ')) continue; // the cold-start bench measures load properly
    out.push({ where: 'Node', ...t, name: t.name.startsWith('load ') ? `${t.name} (latency bench: created from bytes, runtime warm)` : t.name });
  }
  const thr = (res.threads?.lines ?? []).filter((l) => !l.summary);
  for (const t of latencyTargets(thr)) if (/threads/.test(t.name)) out.push({ where: 'Node (wall clock, this machine)', ...t });
  for (const l of (res.critical?.lines ?? []).filter((x) => x.critical_ratio !== undefined)) {
    const met = l.critical_ratio <= 0.55;
    out.push({ where: 'Node (critical path: N free cores)', name: `${l.scheme} ${l.threads} threads / 1 thread`, arch: l.arch, group: l.wasm, met,
      detail: `${r2(l.critical_ratio)} ${met ? '≤' : '>'} 0.55${met ? '' : `: missed by ${((l.critical_ratio / 0.55 - 1) * 100).toFixed(0)} %`}` });
  }
  if (coldOk) {
    for (const s of res.coldstart.lines.filter((l) => l.summary)) {
      for (const [k, v] of Object.entries(s.targets ?? {})) {
        const missed = v.met ? '' : `: missed by ${((v.ratio / v.target - 1) * 100).toFixed(0)} %`;
        // cold_ready_w8a8<=0.5x_ort_int8_session → cold ready w8a8 ≤ 0.5× ORT int8 session
        const name = k.replace('<=', ' ≤ ').replace(/(\d)x_/, '$1× ').replace(/_/g, ' ').replace(/\bort\b/g, 'ORT');
        out.push({ where: 'Node (cold start)', name, arch: s.arch, group: s.wasm, met: v.met, detail: `${r2(v.ratio)} ${v.met ? '≤' : '>'} ${v.target}${missed}` });
      }
    }
  }
  if (res.profile?.status === 'ok') {
    const gemm = res.profile.lines.filter((l) => l.profile && ['qkv', 'proj', 'fc1', 'fc2'].includes(l.op) && l.pct_of_ceiling !== undefined);
    for (const arch of [...new Set(gemm.map((l) => l.arch))]) {
      for (const wasm of [...new Set(gemm.filter((l) => l.arch === arch).map((l) => l.wasm))]) {
        const g = gemm.filter((l) => l.arch === arch && l.wasm === wasm && (l.threads ?? 1) === 1);
        if (!g.length) continue;
        const worst = g.reduce((a, b) => (b.pct_of_ceiling < a.pct_of_ceiling ? b : a));
        const met = worst.pct_of_ceiling >= 85;
        out.push({ where: 'Node (profile)', name: 'each GEMM ≥ 85 % of its ceiling', arch, group: wasm, met,
          detail: `lowest: ${worst.op} ${worst.scheme} ${worst.pct_of_ceiling.toFixed(0)} %${met ? '' : `, missed by ${(85 - worst.pct_of_ceiling).toFixed(0)} points`}` });
      }
    }
  }
  const br = (res.browsers?.lines ?? []).filter((l) => !l.summary);
  for (const engine of [...new Set(br.map((l) => l.engine_name))]) {
    for (const t of latencyTargets(br.filter((l) => l.engine_name === engine))) if (!t.name.startsWith('load ')) out.push({ where: engine, ...t });
  }
  return out;
}

/** For a missed latency target: where the time goes, from the profile of the same arch, build and scheme. */
function why(res, t) {
  if (res.profile?.status !== 'ok' || !t.arch || t.where !== 'Node') return ''; // the profile is Node's
  const opsOf = (scheme) => res.profile.lines.filter((l) => l.profile && l.arch === t.arch && l.wasm === t.group && l.scheme === scheme && (l.threads ?? 1) === 1 && l.op && l.op !== 'total' && l.attention === undefined);
  if (t.name === 'w4a8 / w8a8') {
    // where w4a8 spends more than w8a8, op by op
    const w8 = new Map(opsOf('w8a8').map((l) => [l.op, l.ms]));
    const diff = opsOf('w4a8').filter((l) => w8.has(l.op)).map((l) => ({ op: l.op, d: l.ms - w8.get(l.op) })).sort((a, b) => b.d - a.d).slice(0, 4);
    return diff.length ? `w4a8 − w8a8: ${diff.map((x) => `${x.op} ${x.d >= 0 ? '+' : ''}${x.d.toFixed(2)} ms`).join(', ')}` : '';
  }
  const scheme = t.detail.match(/^(w\d+a\d+|fp32)\b/)?.[1] ?? (t.name.includes('fp32 /') ? 'fp32' : null);
  if (!scheme) return '';
  const ops = opsOf(scheme);
  if (!ops.length) return '';
  const top = [...ops].sort((a, b) => b.share - a.share).slice(0, 4).map((l) => `${l.op} ${(100 * l.share).toFixed(0)} %${l.pct_of_ceiling !== undefined ? ` (${l.pct_of_ceiling.toFixed(0)} % of ceiling)` : ''}`);
  return `${scheme}: ${top.join(', ')}`;
}

/** The 1-minute load average over every source's start and end, and the browsers' runs: "between a and b". */
function loadRange(res) {
  const v = [];
  for (const r of Object.values(res)) if (r?.load) v.push(r.load[0][0], r.load[1][0]);
  for (const l of res.browsers?.lines ?? []) if (l.summary && l.loadavg) v.push(l.loadavg[0]);
  return v.length ? `between ${Math.min(...v)} and ${Math.max(...v)} (1 min) while the numbers below were measured, on ${cpus().length} cores shared with other work` : null;
}

function statusLine(name, r, what) {
  if (!r) return `- ${what}: not run.`;
  if (r.status === 'ok') return `- ${what}: measured${r.ms ? ` in ${(r.ms / 1000).toFixed(0)} s` : ''}${r.load ? `, load average ${r.load[0][0]} → ${r.load[1][0]}` : ''}${r.reason ? ` (${r.reason})` : ''}.`;
  return `- ${what}: **${r.status}** — ${r.reason}.`;
}

async function markdown(o, res, m) {
  const out = [];
  const timed = [...(res.latency?.lines ?? []), ...(res.browsers?.lines ?? [])].filter((l) => !l.summary && l.runs);
  const fewRuns = Math.min(Infinity, ...timed.map((l) => l.runs));
  const browsersSeen = [...new Map((res.browsers?.lines ?? []).filter((l) => l.summary).map((s) => [s.engine_name, s])).values()];
  out.push('# Performance', '',
    `Generated by \`npm run perf:docs${o.argv.length ? ` -- ${o.argv.join(' ')}` : ''}\` on ${m.date} at commit ${m.commit ?? '?'} — do not edit by hand.` +
    (fewRuns < 10 ? ` **Only ${fewRuns} timed runs per contestant somewhere below (--quick or a short bench:browser run): numbers for trying the generator, not for reading.**` : ''), '',
    'Every ratio compares contestants timed in one process, interleaved (every contestant once per round, the order rotating), ' +
    'after warm-up; absolute times move with the machine\'s load, the ratios much less. Random weights at the real shapes ' +
    '(`sdk/model/random.ts`, seed 0), batch 1, one image; onnxruntime-web is the wasm backend on the same weights (fp32 MatMul, ' +
    'int8 dynamic `MatMulInteger`, int4 `MatMulNBits`; `test/oracle/onnx-vit.ts`).', '');

  out.push('## The machine', '');
  const rows = [
    ['CPU', `${m.cpu}, ${m.cores} logical cores`], ['memory', m.memory], ['OS', m.kernel],
    ['Node', `${m.node}; the simd group runs with \`--no-liftoff\`, the relaxed group in a child with \`--experimental-wasm-relaxed-simd --no-liftoff\``],
    ['onnxruntime-web', `${m.ort} (wasm backend, npm build: SIMD128, no relaxed SIMD)`],
    ...browsersSeen.map((s) => [s.engine_name, `${s.driver_version ?? s.browser} — page's UA: ${s.browser}; ${s.hardwareConcurrency} cores reported; measured ${res.browsers.files.find((f) => f.engine === s.engine_name)?.mtime ?? '?'} (load average ${s.loadavg?.[0] ?? '?'})`]),
    ['load average', loadRange(res) ?? `${m.loadStart.join(' / ')} at the start, ${m.loadEnd.join(' / ')} at the end (1 / 5 / 15 min)`],
  ];
  out.push(table(['', ''], rows.map(([k, v]) => [`**${k}**`, v]), ['l', 'l']), '');
  out.push('What was measured:', '',
    statusLine('latency', res.latency, 'Node latency (`npm run bench`)'),
    statusLine('threads', res.threads, 'Node 1 vs 2 threads (`npm run bench -- --threads 1,2`)'),
    statusLine('critical', res.critical, 'threads on free cores (`npm run bench:threads`: the critical path)'),
    statusLine('profile', res.profile, 'per-op profile (`npm run bench -- --profile`)'),
    statusLine('coldstart', res.coldstart, 'cold start and memory (`bench/coldstart.ts`)'),
    statusLine('browsers', res.browsers, 'browsers (`npm run bench:browser`, read from artifacts/perf/browser-*.jsonl)'), '');

  // targets
  const targets = await allTargets(res);
  out.push('## Targets (issue 10)', '', 'Reported, never asserted. "Missed" says by how much; where the profile ran, the largest ops of that scheme follow.', '');
  const measured = targets.filter((t) => t.met !== null);
  if (measured.length) {
    out.push(table(['where', 'arch', 'build', 'target', 'result', 'measured', 'where the time goes (profile)'],
      measured.map((t) => [t.where, short(t.arch ?? '—'), t.group ?? '—', t.name, t.met === null ? 'not measured' : t.met ? 'met' : '**missed**', t.detail, t.met === false ? why(res, t) : '']), ['l', 'l', 'l', 'l', 'l', 'l', 'l']), '');
  } else out.push('No source with targets was measured.', '');

  // latency
  if (res.latency?.lines?.length) {
    const lat = res.latency.lines.filter((l) => !l.summary);
    out.push('## Latency in Node', '', `One process per wasm build (simd here, relaxed in a child), each with its own ORT baselines; ` +
      `${o.reuse ? '' : `${o.warmup} warm-up and `}${[...new Set(lat.map((l) => l.runs))].join('/')} timed runs per contestant. ` +
      '"load ms" is the engine or session created from bytes in memory in the first group, the kernels or ORT runtime already compiled; ' +
      'the first of each library in a process also pays its JIT\'s warm-up of the loading code (cold start is its own bench below).', '');
    for (const arch of [...new Set(lat.map((l) => l.arch))]) {
      out.push(`### ${arch}`, '', latencyTable(lat.filter((l) => l.arch === arch)), '');
    }
  }
  if (res.threads?.status === 'ok') {
    const busy = res.threads.load && Math.max(res.threads.load[0][0], res.threads.load[1][0]) >= m.cores;
    out.push('## Threads', '', 'Each thread count in its own process (onnxruntime-web fixes its thread count per process), its ORT baselines on as many threads.' +
      (busy ? ` **The load average (${res.threads.load[0][0]} → ${res.threads.load[1][0]}) was at or above the ${m.cores} cores while this ran: a second thread had no idle core of its own, so these ratios say what threads cost on a busy machine, not what they gain on an idle one.**` : ''), '',
      threadsTable(res.threads.lines.filter((l) => !l.summary)), '');
  }
  if (res.critical?.lines?.length) {
    const rows = res.critical.lines.filter((l) => l.critical_ratio !== undefined).map((l) => [short(l.arch), l.wasm, l.scheme, `${l.threads}`,
      f1(l.wall_1t_ms), f1(l.wall_nt_ms), r2(l.wall_ratio), f1(l.cpu_1t_ms), f1(l.critical_nt_ms), r2(l.critical_ratio), `${l.load?.[0] ?? '?'} → ${l.load?.[1] ?? '?'}`]);
    out.push('### Threads on free cores (`npm run bench:threads`)', '', 'One process per build: the forward on 1 and on N threads (wall clock: what this machine gives now), the 1-thread forward on the CPU clock, ' +
      'and the N-thread forward\'s critical path on the CPU clock (each region\'s per-thread call lists timed one after the other, the slowest thread summed: what N free cores would take, imbalance included, the pool\'s wake-ups not).', '',
      table(['arch', 'build', 'scheme', 'threads', 'wall 1 thread ms', 'wall N threads ms', 'wall ×', 'CPU 1 thread ms', 'critical path ms', 'critical ×', 'load average'], rows, ['l', 'l', 'l']), '');
  }
  if (res.browsers?.lines?.length) {
    out.push('## In the browsers', '', 'The on-device bench page (`demos/browser/bench.html`, served by `npm run demo`) headless here through `npm run bench:browser`: ' +
      'every wasm build the engine validates is a group with its own ORT baselines, in one page; the kernels are compiled before the runs, so "load ms" is an engine made from the model bytes ' +
      '(the first engine of each library in a page also pays the JIT\'s warm-up: WebKit\'s first vitguard engine takes over a second). Browsers coarsen `performance.now()` (Firefox and WebKit to 1 ms or more in a page that is not cross-origin isolated).', '');
    const br = res.browsers.lines.filter((l) => !l.summary);
    for (const engine of [...new Set(br.map((l) => l.engine_name))]) {
      for (const arch of [...new Set(br.filter((l) => l.engine_name === engine).map((l) => l.arch))]) {
        const mine = br.filter((l) => l.engine_name === engine && l.arch === arch);
        out.push(`### ${engine}: ${arch} (${mine[0].runs} runs)`, '', latencyTable(mine), '');
      }
    }
  }
  if (res.profile?.status === 'ok') {
    const { profileMarkdown } = await import(pathToFileURL(lib('bench/profile.js')).href);
    const p = res.profile.lines.filter((l) => l.profile && l.op !== undefined);
    const c = res.profile.lines.filter((l) => l.profile && l.ceiling !== undefined && l.op === undefined);
    out.push('## Per-op profile (Node)', '', profileMarkdown(p, c).trim(), '');
  }
  if (res.coldstart?.status === 'ok') {
    out.push('## Cold start and memory (Node)', '', 'Each contestant in fresh child processes (medians): ready = wasm compiled + weights laid out (vitguard) or runtime + session (ORT), from bytes in memory; first result = ready + the first forward; peak RSS = the child\'s VmHWM.', '',
      coldstartTable(res.coldstart.lines), '');
  }
  out.push('## Chart', '', '![vitguard ÷ ORT int8 per scheme, Node and browsers](performance.svg)', '',
    'Bars: vitguard\'s median ÷ onnxruntime-web int8\'s median in the same process (lower is faster); dashed: the target for the best quantized scheme.', '');
  out.push('## Regenerate', '', '```sh', 'npm run bench:browser -- --arch deit_tiny,deit_small   # the browsers (or pass --browsers to perf:docs)',
    'npm run perf:docs                                      # Node benches, then this file and performance.svg', 'npm run perf:docs -- --full                            # with vit_base', '```', '',
    `Raw lines: \`artifacts/perf/\` (${['node-latency', 'node-threads', 'node-threads-critical', 'node-profile', 'node-coldstart'].map((f) => `${f}.jsonl`).join(', ')}, browser-<engine>.jsonl).`, '');
  return out.join('\n');
}

async function chart(res) {
  const { barChart } = await import(pathToFileURL(lib('bench/chart.js')).href);
  const sets = [];
  const lat = (res.latency?.lines ?? []).filter((l) => !l.summary);
  for (const g of ['simd', 'relaxed']) sets.push({ where: `Node ${g}`, lines: lat.filter((l) => l.group === g) });
  const br = (res.browsers?.lines ?? []).filter((l) => !l.summary);
  for (const engine of [...new Set(br.map((l) => l.engine_name))]) {
    for (const g of ['simd', 'relaxed']) sets.push({ where: `${engine} ${g}`, lines: br.filter((l) => l.engine_name === engine && l.group === g) });
  }
  const archs = [...new Set([...lat, ...br].map((l) => l.arch))];
  const panels = archs.map((arch) => {
    const groups = sets.map((s) => {
      const mine = s.lines.filter((l) => l.arch === arch);
      const int8 = mine.find((l) => l.engine === 'ort' && l.scheme === 'int8');
      if (!int8) return null;
      const vg = mine.filter((l) => l.engine === 'vitguard');
      const best = Math.min(...vg.filter((l) => l.scheme !== 'fp32').map((l) => l.median_ms));
      return {
        title: s.where,
        bars: [
          ...mine.filter((l) => l.engine === 'ort' && l.scheme === 'fp32').map((l) => ({ label: 'ORT fp32', value: l.median_ms / int8.median_ms, kind: 'ort', note: `${f1(l.median_ms)} ms` })),
          ...vg.map((l) => ({ label: l.scheme, value: l.median_ms / int8.median_ms, kind: l.median_ms === best ? 'vitguard-best' : 'vitguard', note: `${f1(l.median_ms)} ms` })),
        ],
        marks: short(arch) === 'deit_tiny' ? [{ value: 0.55, label: '0.55' }] : short(arch) === 'deit_small' ? [{ value: 0.6, label: '0.6' }] : [],
      };
    }).filter(Boolean);
    return groups.length ? barChart(groups, { title: `${short(arch)}: ÷ ORT int8 (same process)`, unit: '×', width: 480, caption: 'median ÷ ORT int8 median (lower is faster); dashed: target' }) : null;
  }).filter(Boolean);
  return sideBySide(panels);
}

/** Panels (standalone SVG strings) next to each other in one SVG. */
function sideBySide(panels) {
  if (!panels.length) return '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="40"><text x="10" y="25" font-family="sans-serif">no latency measured</text></svg>';
  let x = 0;
  let H = 0;
  const inner = panels.map((p) => {
    const [, w, h] = p.match(/viewBox="0 0 ([\d.]+) ([\d.]+)"/).map(Number);
    const s = p.replace('<svg ', `<svg x="${x}" y="0" `);
    x += w + 10;
    H = Math.max(H, h);
    return s;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${x - 10} ${H}" width="${x - 10}" height="${H}"><rect width="100%" height="100%" fill="#fff"/>${inner.join('')}</svg>\n`;
}

export async function main(argv) {
  const o = parseArgs(argv);
  for (const f of ['bench/latency.js', 'bench/measure.js', 'bench/chart.js', 'bench/targets.js', 'bench/browser.js']) {
    if (!has(f)) throw new Error(`lib/${f} is missing: run \`tsc -p tsconfig.build.json\` (npm run perf:docs does)`);
  }
  const loadStart = load();
  o.loadStart = loadStart;
  log(`${o.quick ? 'quick: ' : ''}${o.archs.join(', ')}, ${o.warmup} warm-up + ${o.runs} runs; load average ${loadStart.join(' ')}`);
  const res = await measure(o);
  const m = { ...machine(), loadStart: o.measured?.loadStart ?? loadStart, loadEnd: o.measured?.loadEnd ?? load() };
  if (o.measured?.argv) {
    // the document says how and when its numbers were measured (each source its own run), not when it was rewritten
    const last = o.measured.sources?.latency ?? o.measured;
    Object.assign(o, { argv: last.argv ?? o.measured.argv, runs: last.runs ?? o.measured.runs, warmup: last.warmup ?? o.measured.warmup, reuse: false });
    Object.assign(m, { commit: last.commit ?? o.measured.commit ?? m.commit, date: last.date ?? o.measured.date ?? m.date });
  }
  const md = await markdown(o, res, m);
  writeFileSync(o.out, md);
  const svgPath = join(o.out, '..', basename(o.out, '.md') + '.svg');
  writeFileSync(svgPath, await chart(res));
  log(`wrote ${relative(ROOT, o.out)} and ${relative(ROOT, svgPath)}`);
  for (const [name, r] of Object.entries(res)) if (r.status !== 'ok') log(`${name}: ${r.status}${r.reason ? `: ${r.reason}` : ''}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`perf-docs: ${e.message}\n`);
    process.exit(1);
  });
}
