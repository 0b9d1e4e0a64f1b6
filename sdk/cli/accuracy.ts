import { readFileSync } from 'node:fs';
import { VitguardError } from '../errors.js';
import { createClassifier, type ClassifierImage, type ClassifyOptions, type ClassifyResult } from '../index.js';
import { encodeMeta, readModel } from '../format/model.js';
import { writeSafetensors } from '../format/safetensors.js';
import { openDataset } from '../data/index.js';
import { quantizeModel } from '../quant/index.js';
import { intOption, parse } from './args.js';
import { attentionList, wasmChoice } from './common.js';
import { ProgressLine } from './progress.js';

const USAGE = `usage: vitguard accuracy MODEL --data SPEC [--schemes fp32,w8a8,...] [--json] [--wasm auto|simd|relaxed]
                         [--batch N] [--attention f32,int8] [--data-root DIR]
Top-1 accuracy through the vitguard engine on a dataset spec (e.g. fashion-mnist:test, fashion-mnist:test:1000).
--schemes quantizes an fp32 MODEL in memory to each scheme (round-to-nearest, min-max) and adds, per scheme, the
change against the first one and the share of images whose top-1 agrees with it.
--attention f32,int8 runs each scheme once per attention path (int8: q, k, v quantized per token and head, the
matmuls on integer dot kernels) and adds, on each int8 line, the change against the same scheme with f32 attention.`;

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    data: { type: 'string' }, schemes: { type: 'string' }, json: { type: 'boolean' }, wasm: { type: 'string' },
    batch: { type: 'string' }, 'data-root': { type: 'string' }, attention: { type: 'string' },
  }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  if (positionals.length !== 1 || !v.data) throw new VitguardError('E_USAGE', USAGE);
  const batch = intOption(v.batch as string | undefined, '--batch') ?? 16;
  const bytes = new Uint8Array(readFileSync(positionals[0]));
  const model = readModel(bytes);
  const schemes = v.schemes ? (v.schemes as string).split(',').map((s) => s.trim()) : [model.meta.scheme.name];
  // Quantize all first, so a bad scheme fails before minutes of inference.
  const files = schemes.map((s) => (s === model.meta.scheme.name ? bytes : (() => {
    const q = quantizeModel(model, { scheme: s });
    return writeSafetensors(q.tensors, encodeMeta(q.meta));
  })()));
  const attns = attentionList(v.attention);
  const runs = schemes.flatMap((scheme, i) => attns.map((attention) => ({ i, scheme, attention })));
  let base: { top1: number; preds: Int32Array } | undefined;
  const f32Attention = new Map<number, { top1: number; preds: Int32Array }>(); // scheme index → its f32-attention run
  const progress = ProgressLine.forStderr(Boolean(v.json));
  let done = 0, total: number | undefined;
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;
  const agreement = (a: Int32Array, b: Int32Array) => {
    let n = 0;
    for (let j = 0; j < a.length; j++) if (a[j] === b[j]) n++;
    return n / a.length;
  };
  for (const { i, scheme, attention } of runs) {
    const clf = await createClassifier({ model: files[i], wasm: wasmChoice(v.wasm), maxBatch: batch, attention });
    try {
      const what = attention === 'int8' ? `${scheme} (int8 attention)` : scheme;
      const r = await accuracy(clf, v.data as string, {
        batch, dataRoot: v['data-root'] as string | undefined,
        progress: (k, size) => progress.update((done += k), (total ??= size * runs.length), `accuracy ${what}`),
      }).finally(() => progress.end());
      const info = await clf.info();
      const row: Record<string, unknown> = { model: positionals[0], data: v.data, scheme: info.scheme, wasm: info.wasm, n: r.n, top1: r.top1 };
      if (v.attention !== undefined) row.attention = info.attention;
      if (base) {
        Object.assign(row, { delta_points: Number((100 * (r.top1 - base.top1)).toFixed(2)), agreement: agreement(r.preds, base.preds), vs: schemes[0] });
      } else {
        base = r;
      }
      if (attention === 'f32') f32Attention.set(i, r);
      const ref = attention === 'int8' ? f32Attention.get(i) : undefined;
      if (ref) Object.assign(row, { attn_delta_points: Number((100 * (r.top1 - ref.top1)).toFixed(2)), attn_agreement: agreement(r.preds, ref.preds) });
      if (v.json) console.log(JSON.stringify(row));
      else {
        const extra = row.agreement !== undefined ? `  (${signed(row.delta_points as number)} points vs ${schemes[0]}, top-1 agreement ${(100 * (row.agreement as number)).toFixed(2)} %)` : '';
        const attn = ref ? `  (int8 attention: ${signed(row.attn_delta_points as number)} points vs f32 attention, top-1 agreement ${(100 * (row.attn_agreement as number)).toFixed(2)} %)` : '';
        console.log(`${row.model} [${row.scheme}${attention === 'int8' ? ' int8 attention' : ''}, ${row.wasm}] on ${row.data}: top-1 ${(100 * r.top1).toFixed(2)} % of ${r.n} images${extra}${attn}`);
      }
    } finally {
      await clf.dispose();
    }
  }
  return 0;
}

/** Anything with classifyBatch: the public API's classifier (async) or the in-thread Classifier (sync). */
export interface BatchClassifier {
  classifyBatch(images: ClassifierImage[], opts?: ClassifyOptions): ClassifyResult[] | Promise<ClassifyResult[]>;
}

/** Top-1 accuracy and the predictions, batched through the classifier. */
export async function accuracy(clf: BatchClassifier, spec: string, opts: { batch?: number; dataRoot?: string; progress?: (images: number, size: number) => void } = {}) {
  const ds = await openDataset(spec, { dataRoot: opts.dataRoot });
  if (!ds.labels) throw new VitguardError('E_DATA', `${spec} has no class labels to score accuracy against`);
  const batch = opts.batch ?? 16;
  const preds = new Int32Array(ds.size);
  let correct = 0, i = 0;
  let pending: Array<{ data: Uint8Array; width: number; height: number; channels: 1 | 3 | 4; label: number }> = [];
  const flush = async () => {
    (await clf.classifyBatch(pending, { topK: 1 })).forEach((r, j) => {
      preds[i++] = r.top[0].index;
      if (r.top[0].index === pending[j].label) correct++;
    });
    opts.progress?.(pending.length, ds.size);
    pending = [];
  };
  for await (const s of ds) {
    pending.push({ data: s.pixels, width: s.width, height: s.height, channels: s.channels, label: s.label });
    if (pending.length === batch) await flush();
  }
  if (pending.length) await flush();
  if (i === 0) throw new VitguardError('E_DATA', `${spec} has no images`);
  return { n: i, top1: correct / i, preds };
}
