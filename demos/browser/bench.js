// The on-device bench (bench.html): bench/measure.ts in the visitor's browser. One random-weight model (seeded) at
// real shapes; vitguard per scheme on each wasm build this browser validates, each build in its own group with its
// own onnxruntime-web baselines (like `npm run bench`, whose relaxed group is a child process); warm-up, then
// interleaved timed rounds; a table, a chart, the targets, and the result lines as JSON.
//
// Bundled by demos/browser/build-bench.mjs into dist/bench/bench.js (with vitguard's two wasm binaries beside it);
// onnxruntime-web is loaded from node_modules/onnxruntime-web/dist/ (served by demos/browser/serve.mjs).
// Query parameters preset the form, and autorun=1 starts at once (npm run bench:browser):
//   bench.html?arch=deit_small_patch16_224&scheme=fp32,w8a8&wasm=simd&ort=fp32,int8&warmup=10&runs=20&threads=1&seed=0&autorun=1
// The page's state for drivers: window.vitguardBench = { phase, lines, summaries, error, env } and
// #status[data-phase] ('idle' | 'running' | 'done' | 'error').

import { benchModel, runGroup, summarize } from '../../lib/bench/measure.js';
import { barChart } from '../../lib/bench/chart.js';
import { latencyTargets } from '../../lib/bench/targets.js';
import { relaxedSimdSupported, simdSupported } from '../../lib/sdk/engine/wasm.js';
import { ortVersion } from '../../lib/test/oracle/ort.js';
import { browserName } from '../../lib/bench/ua.js';

const $ = (id) => document.getElementById(id);
const WASM_SOURCE = {
  simd: new URL('./vitguard.simd.wasm', import.meta.url), relaxed: new URL('./vitguard.relaxed.wasm', import.meta.url),
  // threaded twins (shared memory): used for threads > 1, which needs a cross-origin-isolated page
  'simd-mt': new URL('./vitguard.simd-mt.wasm', import.meta.url), 'relaxed-mt': new URL('./vitguard.relaxed-mt.wasm', import.meta.url),
};
/** onnxruntime-web fixes its thread count when its runtime starts: a run at another count reloads the page. */
let ortThreads = null;
const state = { phase: 'idle', lines: [], summaries: [], error: null, env: null };
window.vitguardBench = state;

function setStatus(text, phase = state.phase) {
  state.phase = phase;
  const el = $('status');
  el.textContent = text;
  el.dataset.phase = phase;
  el.className = `status ${phase === 'error' ? 'error' : ''}`;
}

const checked = (name) => [...document.querySelectorAll(`input[name=${name}]:checked`)].map((i) => i.value);
const yieldToPage = () => new Promise((r) => setTimeout(r, 0));

function environment() {
  const env = {
    browser: browserName(navigator.userAgent),
    userAgent: navigator.userAgent,
    hardwareConcurrency: navigator.hardwareConcurrency ?? null,
    deviceMemory: navigator.deviceMemory ?? null, // Chromium only (GiB, rounded)
    crossOriginIsolated: Boolean(globalThis.crossOriginIsolated),
    simd: simdSupported(),
    relaxed: relaxedSimdSupported(),
    ort: ortVersion(),
  };
  return env;
}

function showEnvironment(env, extra = {}) {
  const rows = {
    browser: env.browser, 'user agent': env.userAgent, 'logical cores': env.hardwareConcurrency ?? 'not reported',
    ...(env.deviceMemory ? { memory: `${env.deviceMemory} GiB (rounded by the browser)` } : {}),
    'wasm SIMD': env.simd ? 'yes' : 'no', 'relaxed SIMD': env.relaxed ? 'yes' : 'no',
    'cross-origin isolated': env.crossOriginIsolated ? 'yes (threads possible)' : 'no (one thread)',
    'onnxruntime-web': env.ort, ...extra,
  };
  $('env').replaceChildren(...Object.entries(rows).flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = String(v);
    return [dt, dd];
  }));
}

/** Preset the form from the query string. */
function applyQuery() {
  const q = new URLSearchParams(location.search);
  const setList = (name, value) => {
    if (value === null) return;
    const want = value.split(',').map((s) => s.trim());
    for (const i of document.querySelectorAll(`input[name=${name}]`)) if (!i.disabled || name === 'ort') i.checked = want.includes(i.value) || (name === 'ort' && i.value === 'fp32');
  };
  setList('scheme', q.get('scheme'));
  setList('wasm', q.get('wasm'));
  setList('ort', q.get('ort'));
  const radio = (name, value) => {
    const i = value !== null && document.querySelector(`input[name=${name}][value="${CSS.escape(value)}"]`);
    if (i && !i.disabled) i.checked = true;
  };
  const arch = q.get('arch');
  if (arch && !document.querySelector(`input[name=arch][value="${CSS.escape(arch)}"]`)) {
    // any architecture configForArch knows (vit_base_patch16_224, ...) can be asked for by URL
    const label = document.createElement('label');
    label.innerHTML = `<input type="radio" name="arch" value="${arch.replace(/[^\w.-]/g, '')}"> ${arch.replace(/[^\w.-]/g, '')}`;
    document.querySelector('input[name=arch]').closest('fieldset').append(label);
  }
  radio('arch', arch);
  radio('threads', q.get('threads'));
  for (const id of ['runs', 'warmup']) if (q.get(id) !== null) $(id).value = q.get(id);
  return { autorun: q.get('autorun') === '1', seed: Number(q.get('seed') ?? 0) };
}

// --- output --------------------------------------------------------------------------------------------------------

const fmtMs = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const mib = (n) => (n / 2 ** 20).toFixed(1);

function renderTable(lines) {
  const t = $('table');
  const head = '<tr><th>contestant</th><th>median ms</th><th>p90 ms</th><th>× ORT fp32</th><th>× ORT int8</th><th>load ms</th><th>file MiB</th><th>Δlogit/max</th><th>runs</th></tr>';
  const rows = [];
  for (const group of [...new Set(lines.map((l) => l.group))]) {
    const g = lines.filter((l) => l.group === group);
    const ort = (s) => g.find((l) => l.engine === 'ort' && l.scheme === s);
    const ratio = (l, s) => (ort(s) ? (l.median_ms / ort(s).median_ms).toFixed(2) : '—');
    rows.push(`<tr class="group"><th colspan="9">${group === 'simd' ? 'simd build (SIMD128)' : 'relaxed build (relaxed SIMD)'} · ${g[0].arch} · ${g[0].threads} thread${g[0].threads > 1 ? 's' : ''}</th></tr>`);
    for (const l of g) {
      rows.push(`<tr class="${l.engine}" data-engine="${l.engine}" data-scheme="${l.scheme}" data-group="${l.group}"><td class="name">${l.engine === 'ort' ? 'onnxruntime-web' : 'vitguard'} ${l.scheme}</td>` +
        `<td>${fmtMs(l.median_ms)}</td><td>${fmtMs(l.p90_ms)}</td><td>${ratio(l, 'fp32')}</td><td>${ratio(l, 'int8')}</td>` +
        `<td>${fmtMs(l.load_ms)}</td><td>${mib(l.model_bytes)}</td><td>${l.logit_rel_err.toExponential(1)}</td><td>${l.runs}</td></tr>`);
    }
  }
  const targets = latencyTargets(lines).filter((c) => c.met !== null); // only what this run measured
  if (targets.length) {
    rows.push('<tr class="group"><th colspan="9">issue 10 targets (set for Node on one thread; here for comparison)</th></tr>');
    for (const c of targets) {
      rows.push(`<tr><td class="name">${c.name} (${c.group})</td><td colspan="2" class="${c.met === null ? '' : c.met ? 'met' : 'missed'}">${c.met === null ? 'not measured' : c.met ? 'met' : 'missed'}</td><td colspan="6" class="name">${c.detail}</td></tr>`);
    }
  }
  t.innerHTML = head + rows.join('');
}

function renderChart(lines) {
  const groups = [...new Set(lines.map((l) => l.group))].map((group) => {
    const g = lines.filter((l) => l.group === group);
    const int8 = g.find((l) => l.engine === 'ort' && l.scheme === 'int8');
    return {
      title: `${group} build`,
      bars: g.map((l) => ({
        label: `${l.engine === 'ort' ? 'ORT' : 'vitguard'} ${l.scheme}`, value: l.median_ms, whisker: l.p90_ms, kind: l.engine,
        note: l.engine === 'vitguard' && int8 ? `${(l.median_ms / int8.median_ms).toFixed(2)}× ORT int8` : undefined,
      })),
    };
  });
  $('chart').innerHTML = barChart(groups, { title: `${lines[0].arch}, batch 1 — ${state.env.browser}`, width: 720 });
}

function renderJson() {
  const text = [...state.lines, ...state.summaries].map((l) => JSON.stringify(l)).join('\n');
  $('json').value = text;
  $('copy').disabled = !text;
}

async function copyJson() {
  const text = $('json').value;
  try {
    // navigator.clipboard exists only in secure contexts (https, localhost): a phone on http://<lan-ip> falls back
    await navigator.clipboard.writeText(text);
  } catch {
    $('json').focus();
    $('json').select();
    document.execCommand('copy');
  }
  $('copied').textContent = `copied ${text.split('\n').length} lines`;
}

// --- running -------------------------------------------------------------------------------------------------------

async function run({ seed }) {
  const arch = checked('arch')[0];
  const schemes = checked('scheme');
  const builds = checked('wasm').filter((b) => (b === 'relaxed' ? state.env.relaxed : state.env.simd));
  const ort = checked('ort');
  const runs = Math.max(1, Math.floor(Number($('runs').value)));
  const warmup = Math.max(0, Math.floor(Number($('warmup').value)));
  const threads = Number(checked('threads')[0] ?? 1);
  if (!builds.length) throw new Error('no wasm build to run: this browser validates none of the builds ticked');
  if (ortThreads !== null && ortThreads !== threads) {
    const q = new URLSearchParams({ arch, scheme: schemes.join(','), wasm: checked('wasm').join(','), ort: ort.join(','), runs, warmup, threads, seed, autorun: 1 });
    setStatus(`onnxruntime-web started with ${ortThreads} thread(s) in this page: reloading for ${threads}…`, 'running');
    location.search = q.toString();
    return;
  }
  ortThreads = threads;
  state.lines = [];
  state.summaries = [];
  state.error = null;
  renderJson();
  $('run').disabled = true;
  setStatus(`making a random ${arch} (seed ${seed})…`, 'running');
  await yieldToPage();
  const t0 = performance.now();
  const model = benchModel(arch, seed);
  const modelMs = performance.now() - t0;
  const extra = { 'model made in': `${modelMs.toFixed(0)} ms (random weights, ${mib(model.fp32File.byteLength)} MiB fp32)` };
  showEnvironment(state.env, extra);
  // the kernels compiled once, up front, as Node's bench does and as ORT's runtime is started before its sessions:
  // load_ms is then each engine made from the model bytes, not the download and compilation of its binary
  setStatus('compiling the vitguard kernels…', 'running');
  const wasmSource = {};
  const compiled = [];
  for (const b of builds.flatMap((g) => (threads > 1 ? [g, `${g}-mt`] : [g]))) {
    const c0 = performance.now();
    try {
      wasmSource[b] = await WebAssembly.compile(await (await fetch(WASM_SOURCE[b])).arrayBuffer());
      compiled.push(`${b} ${(performance.now() - c0).toFixed(0)} ms`);
    } catch (e) {
      if (!b.endsWith('-mt')) throw e;
      compiled.push(`${b}: ${e.message}`); // the engine says why it ran one thread
    }
  }
  extra['kernels compiled in'] = compiled.join(', ');
  showEnvironment(state.env, extra);
  const messages = [];
  for (const [i, group] of builds.entries()) {
    const lines = await runGroup(model, group, { schemes, ort, runs, warmup, threads, wasmSource, browser: state.env.browser }, {
      say: (line) => { messages.push(line); showEnvironment(state.env, { ...extra, notes: messages.join(' · ') }); },
      progress: (done, total, what) => {
        $('progress').value = (i + done / total) / builds.length;
        setStatus(`${group} build (${i + 1}/${builds.length}): ${what}`, 'running');
      },
      tick: yieldToPage,
    });
    state.lines.push(...lines);
    renderTable(state.lines);
    renderChart(state.lines);
  }
  const { browser, userAgent, hardwareConcurrency, deviceMemory, crossOriginIsolated, ort: ortV } = state.env;
  state.summaries.push(summarize(arch, state.lines, { browser, userAgent, hardwareConcurrency, deviceMemory, crossOriginIsolated, ort: ortV, model_ms: Number(modelMs.toFixed(0)) }));
  renderJson();
  $('progress').value = 1;
  $('run').disabled = false;
  setStatus(`done: ${state.lines.length} lines, ${builds.join(' + ')} build${builds.length > 1 ? 's' : ''}, ${warmup} warm-up + ${runs} timed runs each`, 'done');
}

async function main() {
  state.env = environment();
  showEnvironment(state.env);
  if (!state.env.relaxed) {
    const r = document.querySelector('input[name=wasm][value=relaxed]');
    r.checked = false;
    r.disabled = true;
    $('wasm-hint').textContent = 'This browser has no relaxed SIMD: the simd build only.';
  }
  const t2 = document.querySelector('input[name=threads][value="2"]');
  if (state.env.crossOriginIsolated && typeof SharedArrayBuffer === 'function') {
    t2.disabled = false;
    $('threads-hint').textContent = 'Both engines on the same count; 2 uses a pool of Web Workers on shared memory.';
  } else {
    $('threads-hint').textContent = 'One thread: threads need a cross-origin-isolated page (the server sends COOP/COEP) and SharedArrayBuffer.';
  }
  const { autorun, seed } = applyQuery();
  $('run').addEventListener('click', () => {
    run({ seed }).catch(fail);
  });
  $('copy').addEventListener('click', () => { copyJson().catch(fail); });
  setStatus('ready: pick a model and press Run', 'idle');
  if (autorun) run({ seed }).catch(fail);
}

function fail(e) {
  state.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  console.error(e);
  setStatus(`error: ${state.error}`, 'error');
  $('run').disabled = false;
}

main().catch(fail);
window.addEventListener('error', (e) => { if (state.phase === 'running') fail(e.error ?? e.message); });
