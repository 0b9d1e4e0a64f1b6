// The browser demo: pick a sample (or drop a file), classify it in a Web Worker with vitguard, and show the top-5
// classes, the OOD verdict against its threshold, the class-token attention as a heatmap, the wasm build and latency.
// Everything is served from this origin (dist/browser for the SDK and its wasm, dist/demo for models and manifest).

import { createClassifier } from '../../dist/browser/index.js';

const $ = (id) => document.getElementById(id);
const MANIFEST_URL = new URL('../../dist/demo/manifest.json', import.meta.url);

const state = { manifest: null, scheme: 'fp32', bytes: null, name: null, classifiers: new Map(), run: 0 };

function setStatus(text, kind = 'info', phase = 'busy') {
  const el = $('status');
  el.textContent = text;
  el.className = `status ${kind === 'error' ? 'error' : ''}`;
  el.dataset.phase = phase; // 'busy' | 'ready' | 'done' | 'error': the end-to-end test waits on this
}

/** One classifier per scheme, each in its own Web Worker, created on first use. */
function classifierFor(scheme) {
  if (!state.classifiers.has(scheme)) {
    const model = new URL(state.manifest.schemes[scheme], MANIFEST_URL);
    // ?wasm=simd|relaxed forces a build (the end-to-end test compares the simd build with Node's bit for bit)
    const wasm = new URLSearchParams(location.search).get('wasm') ?? 'auto';
    const p = createClassifier({ model, worker: true, wasm });
    p.catch(() => state.classifiers.delete(scheme)); // a failed start can be retried
    state.classifiers.set(scheme, p);
  }
  return state.classifiers.get(scheme);
}

// --- drawing -----------------------------------------------------------------------------------------------------

async function drawImage(bytes) {
  const bmp = await createImageBitmap(new Blob([bytes]));
  const c = $('image');
  const ctx = c.getContext('2d');
  ctx.imageSmoothingEnabled = bmp.width > c.width; // small images stay pixelated
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, c.width, c.height);
  // centre crop to a square, as the model sees it
  const s = Math.min(bmp.width, bmp.height);
  ctx.drawImage(bmp, (bmp.width - s) / 2, (bmp.height - s) / 2, s, s, 0, 0, c.width, c.height);
}

/** A perceptual colour map (approximate inferno) for t in [0, 1]. */
function inferno(t) {
  const stops = [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  return stops[i].map((v, k) => Math.round(v + f * (stops[i + 1][k] - v)));
}

/** attention.map: [grid·grid] class-token attention to each patch (last layer, heads averaged). */
function drawHeat(attention) {
  const c = $('heat');
  const ctx = c.getContext('2d');
  ctx.clearRect(0, 0, c.width, c.height);
  if (!attention || !$('show-heat').checked) return;
  const { grid, map } = attention;
  let lo = Infinity, hi = -Infinity;
  for (const v of map) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const small = new OffscreenCanvas(grid, grid);
  const sctx = small.getContext('2d');
  const img = sctx.createImageData(grid, grid);
  for (let j = 0; j < grid * grid; j++) {
    const [r, g, b] = inferno(hi > lo ? (map[j] - lo) / (hi - lo) : 0);
    img.data.set([r, g, b, 255], j * 4);
  }
  sctx.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(small, 0, 0, c.width, c.height);
}

function showResult(r, info, wallMs) {
  const top = r.top[0];
  $('top1').textContent = top.label;
  const v = $('verdict');
  const { ood } = r;
  if (ood.isOOD === null || ood.isOOD === undefined) {
    v.textContent = 'no threshold fitted';
    v.className = 'verdict unknown';
    v.dataset.verdict = 'unknown';
  } else {
    v.textContent = ood.isOOD ? 'out of distribution — do not trust the label' : 'in distribution';
    v.className = `verdict ${ood.isOOD ? 'ood' : 'id'}`;
    v.dataset.verdict = ood.isOOD ? 'ood' : 'id';
  }
  $('ood-score').textContent = ood.score.toFixed(4);
  $('ood-threshold').textContent = ood.threshold === null || ood.threshold === undefined ? 'none' : ood.threshold.toFixed(4);
  $('ood-method').textContent = ood.method;
  $('top5').replaceChildren(...r.top.map((t) => {
    const li = document.createElement('li');
    li.innerHTML = `<span class="l"></span><span class="bar"><span></span></span><span class="p"></span>`;
    li.querySelector('.l').textContent = t.label;
    li.querySelector('.bar > span').style.width = `${(100 * t.prob).toFixed(1)}%`;
    li.querySelector('.p').textContent = `${(100 * t.prob).toFixed(1)}%`;
    return li;
  }));
  $('latency').textContent = `${wallMs.toFixed(1)} ms`;
  $('latency-detail').textContent = `(preprocess ${r.timings.preprocessMs.toFixed(1)} ms + inference ${r.timings.inferMs.toFixed(1)} ms in the worker)`;
  $('wasm-build').textContent = info.wasm;
  drawHeat(r.attention);
}

// --- running -----------------------------------------------------------------------------------------------------

async function classifyCurrent() {
  if (!state.bytes) return;
  const run = ++state.run;
  const scheme = state.scheme;
  setStatus(`classifying ${state.name} (${scheme})…`);
  try {
    const vg = await classifierFor(scheme);
    const t0 = performance.now();
    // the copy is handed to the worker (transferred); the page keeps its own bytes for the next scheme switch
    const r = await vg.classify(state.bytes.slice(), { topK: 5, attention: true });
    const wall = performance.now() - t0;
    const info = await vg.info();
    if (run !== state.run) return; // a newer request superseded this one
    showResult(r, info, wall);
    $('model-size').textContent = `${scheme} ${(state.manifest.sizes[scheme] / 2 ** 20).toFixed(2)} MiB`;
    setStatus(`${state.name}: done`, 'info', 'done');
  } catch (e) {
    if (run !== state.run) return;
    setStatus(`${e.code ?? 'error'}: ${e.message}`, 'error', 'error');
  }
}

async function useBytes(bytes, name) {
  state.bytes = bytes;
  state.name = name;
  try {
    await drawImage(bytes);
  } catch {
    // not an image the browser can draw: the SDK will say what is wrong
  }
  await classifyCurrent();
}

function renderSamples() {
  const box = $('samples');
  for (const s of state.manifest.samples) {
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.testid = `sample-${s.file}`;
    b.setAttribute('data-testid', `sample-${s.file}`);
    b.title = `${s.setName}: ${s.truth}${s.inDistribution ? '' : ' (out of distribution)'}`;
    b.setAttribute('aria-pressed', 'false');
    b.innerHTML = `<img alt=""><span class="tag"></span>`;
    b.querySelector('img').src = s.url;
    b.querySelector('img').alt = b.title;
    const tag = b.querySelector('.tag');
    tag.textContent = s.inDistribution ? s.truth : s.set;
    if (!s.inDistribution) tag.classList.add('ood');
    b.addEventListener('click', async () => {
      box.querySelectorAll('button').forEach((x) => x.setAttribute('aria-pressed', String(x === b)));
      const res = await fetch(new URL(s.url, MANIFEST_URL));
      await useBytes(new Uint8Array(await res.arrayBuffer()), s.file);
    });
    box.append(b);
  }
}

function wireInputs() {
  const fromFile = async (file) => file && useBytes(new Uint8Array(await file.arrayBuffer()), file.name);
  $('file').addEventListener('change', (e) => fromFile(e.target.files[0]));
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); fromFile(e.dataTransfer.files[0]); });
  document.querySelectorAll('input[name=scheme]').forEach((r) => r.addEventListener('change', () => {
    state.scheme = r.value;
    classifyCurrent();
  }));
  $('show-heat').addEventListener('change', () => classifyCurrent());
}

async function main() {
  try {
    state.manifest = await (await fetch(MANIFEST_URL)).json();
  } catch (e) {
    setStatus(`cannot load ${MANIFEST_URL.pathname}: run \`npm run build\` first (${e.message})`, 'error', 'error');
    return;
  }
  $('model-name').textContent = state.manifest.model;
  if (!state.manifest.trained) {
    const b = $('banner');
    b.hidden = false;
    b.textContent = 'No trained model was found in models/ when this demo was built: a model with random weights stands in, so its labels mean nothing.';
  }
  renderSamples();
  wireInputs();
  try {
    const vg = await classifierFor(state.scheme);
    const info = await vg.info();
    $('wasm-build').textContent = info.wasm;
    $('model-size').textContent = `fp32 ${(state.manifest.sizes.fp32 / 2 ** 20).toFixed(2)} MiB`;
    setStatus('ready: pick a sample or drop an image', 'info', 'ready');
  } catch (e) {
    setStatus(`${e.code ?? 'error'}: ${e.message}`, 'error', 'error');
  }
}

main();
