import { VitguardError } from '../errors.js';
import { intOption, numberList, parse, stringList } from './args.js';
import { namedModel, wasmChoice } from './common.js';
import { writeFileAtomic } from './io.js';
import { parseScores } from '../study/eval.js';
import { runSweep, sweepSvg, sweepText } from '../study/sweep.js';
import { ProgressLine } from './progress.js';

const USAGE = `usage: vitguard sweep --model M [--bits 2,3,4,5,6,8] [--acts 8|same] [--id SPEC] [--ood SPEC,...]
       [--scores msp,energy] [--fit SPEC] [--limit N] [--json] [--svg out.svg] [--batch N] [--wasm auto|simd|relaxed] [--data-root DIR]
Simulated quantization (per-channel W-bit weights, per-token A-bit activations) at each bit width: top-1 accuracy and
AUPR-out (mean over the OOD sets) against bits, with fp32 as the reference. Defaults: --id fashion-mnist:test,
--ood mnist:test,notmnist:test,cifar10:test,noise:gaussian, --scores msp,energy, --acts 8.`;

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    model: { type: 'string' }, bits: { type: 'string' }, acts: { type: 'string' }, id: { type: 'string' }, ood: { type: 'string' },
    scores: { type: 'string' }, fit: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' }, svg: { type: 'string' },
    wasm: { type: 'string' }, 'data-root': { type: 'string' }, batch: { type: 'string' },
  }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  if (!v.model) throw new VitguardError('E_USAGE', `sweep needs --model\n${USAGE}`);
  const acts = (v.acts ?? '8') as string;
  if (acts !== '8' && acts !== 'same') throw new VitguardError('E_USAGE', `--acts must be 8 or same, got ${acts}`);
  const progress = ProgressLine.forStderr(Boolean(v.json));
  const res = await runSweep({
    model: namedModel(v.model as string),
    bits: numberList((v.bits ?? '2,3,4,5,6,8') as string, '--bits')!, acts,
    id: (v.id ?? 'fashion-mnist:test') as string, ood: stringList(v.ood ?? 'mnist:test,notmnist:test,cifar10:test,noise:gaussian'),
    scores: parseScores(stringList(v.scores ?? 'msp,energy')), fit: v.fit as string | undefined,
    limit: intOption(v.limit as string | undefined, '--limit'), batch: intOption(v.batch as string | undefined, '--batch'),
    wasm: wasmChoice(v.wasm), data: { dataRoot: v['data-root'] as string | undefined }, log: (l) => progress.log(l),
    progress: (done, total, label) => progress.update(done, total, `sweep ${label}`),
  }).finally(() => progress.end());
  if (v.svg) writeFileAtomic(v.svg as string, sweepSvg(res));
  console.log(v.json ? JSON.stringify(res) : sweepText(res));
  return 0;
}
