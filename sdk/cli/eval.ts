import { VitguardError } from '../errors.js';
import { intOption, parse, stringList } from './args.js';
import { attentionList, namedModel, wasmChoice } from './common.js';
import { writeFileAtomic } from './io.js';
import { parseScores, runEval } from '../study/eval.js';
import { evalHtml, evalMarkdown, evalText } from '../study/report.js';
import { ProgressLine } from './progress.js';

const USAGE = `usage: vitguard eval --model M [--model M2 ...] --id SPEC --ood SPEC[,SPEC...] [--schemes fp32,w8a8,w4a8,w4a16,w4a4]
       [--scores msp,maxlogit,energy,mahalanobis,knn,vim] [--fit SPEC] [--limit N] [--json] [--report out.html]
       [--markdown out.md] [--title TEXT] [--command TEXT] [--outlier-channels K] [--knn-k K] [--latency RUNS] [--batch N]
       [--bootstrap N] [--seed S] [--wasm auto|simd|relaxed] [--attention f32,int8] [--data-root DIR]
The study as a command: per model × scheme × score × OOD set, top-1 accuracy on the ID set, AUROC, AUPR-in, AUPR-out,
FPR@95 and the AUPR-out drop against fp32. Features are computed once per model × scheme × set; feature scores
(mahalanobis, rmahalanobis, knn, vim) are fitted on --fit (ID training images) through the same scheme.
--limit N samples N images per ID/OOD set (seeded, class-balanced) unless a spec has its own :N.
Schemes: fp32, w8a8, w4a8, w4a16, w4a4, w4a8-oa, w4a4-oa (outlier-aware), sim-wWaA (simulated).
Intervals: --bootstrap N percentile-bootstrap resamples over images (default 1000, 0 = none; seeded by --seed, default
0), stratified (ID and OOD resampled separately) and paired (the same images for every scheme): 95 % intervals for
AUPR-out, AUROC and each drop vs fp32; reports mark (≈) a difference whose interval includes 0.
--attention f32,int8 runs every scheme once per attention path (int8: q, k, v quantized per token and head, the
matmuls on integer dot kernels; rows named <scheme>+attn_int8) and adds int8 − f32 deltas of top-1, AUROC and
AUPR-out on the same images. Default f32.
Defaults: --schemes fp32,w8a8,w4a8,w4a16,w4a4, --scores msp,maxlogit,energy.`;

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    model: { type: 'string', multiple: true }, id: { type: 'string' }, ood: { type: 'string' }, schemes: { type: 'string' },
    scores: { type: 'string' }, fit: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' },
    report: { type: 'string' }, markdown: { type: 'string' }, 'outlier-channels': { type: 'string' }, 'knn-k': { type: 'string' }, latency: { type: 'string' }, batch: { type: 'string' },
    wasm: { type: 'string' }, 'data-root': { type: 'string' }, title: { type: 'string' }, command: { type: 'string' },
    bootstrap: { type: 'string' }, seed: { type: 'string' }, attention: { type: 'string' },
  }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  const modelPaths = (v.model as unknown as string[] | undefined) ?? [];
  if (!modelPaths.length || !v.id || !v.ood) throw new VitguardError('E_USAGE', `eval needs --model, --id and --ood\n${USAGE}`);
  const progress = ProgressLine.forStderr(Boolean(v.json));
  const res = await runEval({
    models: modelPaths.map(namedModel),
    id: v.id as string,
    ood: stringList(v.ood),
    schemes: stringList(v.schemes ?? 'fp32,w8a8,w4a8,w4a16,w4a4'),
    scores: parseScores(stringList(v.scores ?? 'msp,maxlogit,energy')),
    fit: v.fit as string | undefined,
    limit: intOption(v.limit as string | undefined, '--limit'),
    scorerOptions: v['knn-k'] ? { knn: { k: intOption(v['knn-k'] as string, '--knn-k') } } : undefined,
    latencyRuns: intOption(v.latency as string | undefined, '--latency', 0),
    outlierChannels: intOption(v['outlier-channels'] as string | undefined, '--outlier-channels'),
    batch: intOption(v.batch as string | undefined, '--batch'),
    bootstrap: intOption(v.bootstrap as string | undefined, '--bootstrap', 0),
    seed: intOption(v.seed as string | undefined, '--seed', 0),
    wasm: wasmChoice(v.wasm),
    ...(v.attention !== undefined ? { attention: attentionList(v.attention) } : {}),
    data: { dataRoot: v['data-root'] as string | undefined },
    log: (l) => progress.log(l),
    progress: (done, total, label) => progress.update(done, total, `eval ${label}`),
  }).finally(() => progress.end());
  const command = (v.command as string | undefined) ?? `vitguard eval ${argv.join(' ')}`;
  if (v.report) writeFileAtomic(v.report as string, evalHtml(res, { command, title: v.title as string | undefined }));
  if (v.markdown) writeFileAtomic(v.markdown as string, evalMarkdown(res, { command, title: v.title as string | undefined }));
  if (v.json) console.log(JSON.stringify(res));
  else console.log(evalText(res));
  return 0;
}
