import { readFileSync } from 'node:fs';
import { VitguardError } from '../errors.js';
import { Classifier } from '../classifier.js';
import { openDataset } from '../data/index.js';
import { intOption, parse } from './args.js';
import { wasmChoice } from './common.js';

const USAGE = `usage: vitguard accuracy MODEL --data SPEC [--json] [--wasm auto|simd|relaxed] [--batch N] [--data-root DIR]
Top-1 accuracy through the vitguard engine on a dataset spec (e.g. fashion-mnist:test, fashion-mnist:test:1000).`;

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    data: { type: 'string' }, json: { type: 'boolean' }, wasm: { type: 'string' }, batch: { type: 'string' }, 'data-root': { type: 'string' },
  }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  if (positionals.length !== 1 || !v.data) throw new VitguardError('E_USAGE', USAGE);
  const batch = intOption(v.batch as string | undefined, '--batch') ?? 16;
  const clf = await Classifier.create(new Uint8Array(readFileSync(positionals[0])), { wasm: wasmChoice(v.wasm), maxBatch: batch });
  try {
    const r = await accuracy(clf, v.data as string, { batch, dataRoot: v['data-root'] as string | undefined });
    const row = { model: positionals[0], data: v.data, scheme: clf.info().scheme, wasm: clf.engine.wasm, n: r.n, top1: r.top1 };
    if (v.json) console.log(JSON.stringify(row));
    else console.log(`${row.model} [${row.scheme}, ${row.wasm}] on ${row.data}: top-1 ${(100 * r.top1).toFixed(2)} % of ${r.n} images`);
  } finally {
    clf.dispose();
  }
  return 0;
}

/** Top-1 accuracy and the predictions, batched through the engine. */
export async function accuracy(clf: Classifier, spec: string, opts: { batch?: number; dataRoot?: string } = {}) {
  const ds = await openDataset(spec, { dataRoot: opts.dataRoot });
  if (!ds.labels) throw new VitguardError('E_DATA', `${spec} has no class labels to score accuracy against`);
  const batch = opts.batch ?? 16;
  const preds = new Int32Array(ds.size);
  let correct = 0, i = 0;
  let pending: Array<{ data: Uint8Array; width: number; height: number; channels: 1 | 3 | 4; label: number }> = [];
  const flush = () => {
    clf.classifyBatch(pending, { topK: 1 }).forEach((r, j) => {
      preds[i++] = r.top[0].index;
      if (r.top[0].index === pending[j].label) correct++;
    });
    pending = [];
  };
  for await (const s of ds) {
    pending.push({ data: s.pixels, width: s.width, height: s.height, channels: s.channels, label: s.label });
    if (pending.length === batch) flush();
  }
  if (pending.length) flush();
  if (i === 0) throw new VitguardError('E_DATA', `${spec} has no images`);
  return { n: i, top1: correct / i, preds };
}
