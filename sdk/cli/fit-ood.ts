import { readFileSync } from 'node:fs';
import { VitguardError } from '../errors.js';
import { readModel } from '../format/model.js';
import { writeSafetensors } from '../format/safetensors.js';
import { intOption, parse } from './args.js';
import { wasmChoice } from './common.js';
import { writeFileAtomic } from './io.js';
import { fitOod } from '../study/fit.js';
import { ProgressLine } from './progress.js';

const USAGE = `usage: vitguard fit-ood MODEL --id SPEC --method NAME [--holdout N] [--scheme S] [--tpr 0.95] [--k K] -o OUT
                        [--json] [--wasm auto|simd|relaxed] [--data-root DIR]
Fits an OOD detector (msp, maxlogit, energy, gen, mahalanobis, rmahalanobis, knn, vim) on ID training images through
the model's engine and scheme (--scheme quantizes an fp32 model first), sets its threshold at --tpr (default 0.95) ID true-
positive rate on --holdout held-out ID images (default 20 %), and writes the model with the detector in its metadata.
\`vitguard classify OUT ...\` and the SDK then return ood: {method, score, threshold, isOOD} with every prediction.`;

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    id: { type: 'string' }, method: { type: 'string' }, holdout: { type: 'string' }, scheme: { type: 'string' }, tpr: { type: 'string' },
    k: { type: 'string' }, out: { type: 'string', short: 'o' }, json: { type: 'boolean' }, wasm: { type: 'string' }, 'data-root': { type: 'string' },
  }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  if (positionals.length !== 1 || !v.id || !v.method || !v.out) throw new VitguardError('E_USAGE', `fit-ood needs MODEL, --id, --method and -o\n${USAGE}`);
  const tpr = v.tpr === undefined ? undefined : Number(v.tpr);
  if (tpr !== undefined && !(tpr > 0 && tpr <= 1)) throw new VitguardError('E_USAGE', `--tpr must be in (0, 1], got ${v.tpr}`);
  const k = intOption(v.k as string | undefined, '--k');
  const progress = ProgressLine.forStderr(Boolean(v.json));
  const r = await fitOod(readModel(new Uint8Array(readFileSync(positionals[0]))), {
    progress: (done, total) => progress.update(done, total, `fit-ood ${v.method}`),
    id: v.id as string, method: v.method as string, holdout: intOption(v.holdout as string | undefined, '--holdout'),
    scheme: v.scheme as string | undefined, tpr, scorerOptions: k === undefined ? undefined : { k },
    wasm: wasmChoice(v.wasm), data: { dataRoot: v['data-root'] as string | undefined },
  }).finally(() => progress.end());
  writeFileAtomic(v.out as string, writeSafetensors(r.file.tensors, r.file.metadata));
  const row = { out: v.out, scheme: r.file.meta.scheme.name, method: r.detector.method, threshold: r.detector.threshold, tpr: r.detector.tpr, achievedTpr: r.achievedTpr, nFit: r.nFit, nHoldout: r.nHoldout };
  if (v.json) console.log(JSON.stringify(row));
  else console.log(`${row.out}: ${row.method} on ${row.scheme} fitted on ${row.nFit} images, threshold ${row.threshold.toPrecision(6)} accepts ${(100 * row.achievedTpr).toFixed(1)} % of ${row.nHoldout} held-out ID images (target ${(100 * row.tpr).toFixed(0)} %)`);
  return 0;
}
