// vitguard in a Vite app: the classifier runs in a Web Worker (`worker: true`), the model is fetched from a URL (here
// a file in public/, served with the app) with a progress bar and kept in Cache Storage for the next visit, and the
// worker and wasm files come out of the package through Vite's build — nothing to copy by hand.

import { createClassifier, isVitguardError, type ClassifyResult } from 'vitguard';
import './style.css';

// the model: public/model.safetensors by default; VITE_MODEL_URL=https://… at build time for one hosted elsewhere
const MODEL_URL = new URL(import.meta.env.VITE_MODEL_URL ?? `${import.meta.env.BASE_URL}model.safetensors`, location.href);

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** The page's state for people and for the end-to-end test: loading | ready | busy | done | error. */
function status(text: string, phase: 'loading' | 'ready' | 'busy' | 'done' | 'error', file = '') {
  const s = $('status');
  s.textContent = text;
  s.dataset.phase = phase;
  s.dataset.file = file;
}

const progress = $<HTMLProgressElement>('progress');
let progressEvents = 0;
const classifier = createClassifier({
  model: MODEL_URL,
  worker: true, // inference in a Web Worker: the page stays responsive
  cache: true, // keep the model in Cache Storage: the next visit downloads nothing
  onProgress: ({ loaded, total }) => {
    progressEvents++;
    progress.hidden = false;
    if (total) progress.value = loaded / total; else progress.removeAttribute('value');
    status(`Loading the model… ${(loaded / 2 ** 20).toFixed(1)}${total ? ` of ${(total / 2 ** 20).toFixed(1)}` : ''} MiB`, 'loading');
  },
});
let run = 0;

function show(r: ClassifyResult, wasm: string, ms: number) {
  $('label').textContent = r.top[0].label;
  const v = $('verdict');
  const { isOOD, score, threshold, method } = r.ood;
  v.dataset.verdict = isOOD === null || isOOD === undefined ? 'unknown' : isOOD ? 'ood' : 'id';
  v.textContent = v.dataset.verdict === 'unknown' ? 'no OOD threshold in this model'
    : isOOD ? 'Not something I know — don\'t trust the label' : 'Looks like something I know';
  $('probs').replaceChildren(...r.top.map((t) => {
    const li = document.createElement('li');
    const label = document.createElement('span');
    label.textContent = t.label;
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.append(document.createElement('span'));
    (bar.firstChild as HTMLElement).style.width = `${(100 * t.prob).toFixed(1)}%`;
    const p = document.createElement('span');
    p.className = 'p';
    p.textContent = `${(100 * t.prob).toFixed(1)}%`;
    li.append(label, bar, p);
    return li;
  }));
  $('score').textContent = score.toFixed(4);
  $('threshold').textContent = threshold === null || threshold === undefined ? 'none' : threshold.toFixed(4);
  $('method').textContent = method;
  $('latency').textContent = `${ms.toFixed(1)} ms`;
  $('wasm').textContent = wasm;
  $('result').hidden = false;
}

async function classifyFile(file: File) {
  const mine = ++run;
  const preview = $<HTMLImageElement>('preview');
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  status(`Looking at ${file.name}…`, 'busy', file.name);
  try {
    const vg = await classifier;
    const t0 = performance.now();
    const r = await vg.classify(file, { topK: 5 });
    const ms = performance.now() - t0;
    const { wasm } = await vg.info();
    if (mine !== run) return; // a newer image is on its way
    show(r, wasm, ms);
    status(`${file.name}: done`, 'done', file.name);
  } catch (e) {
    if (mine !== run) return;
    status(isVitguardError(e) ? `${e.code}: ${e.message}` : String(e), 'error', file.name);
  }
}

for (const id of ['camera', 'file']) {
  $<HTMLInputElement>(id).addEventListener('change', (e) => {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    if (file) void classifyFile(file);
    input.value = ''; // picking the same file again classifies it again
  });
}

classifier.then(
  async (vg) => {
    const info = await vg.info();
    progress.hidden = true;
    progress.dataset.events = String(progressEvents); // for the end-to-end test
    $('wasm').textContent = info.wasm;
    status(`Ready: ${info.labels.length} classes (${info.arch}, ${info.scheme}, wasm ${info.wasm}).`, 'ready');
  },
  (e) => status(isVitguardError(e) ? `${e.code}: ${e.message}` : `Cannot load the model: ${String(e)}`, 'error'),
);
