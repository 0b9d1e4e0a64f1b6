import { readFileSync } from 'node:fs';
import { VitguardError } from '../errors.js';
import { classTokenAttention } from '../classifier.js';
import { Engine } from '../engine/index.js';
import { decodeImage } from '../image/decode.js';
import { preprocess } from '../image/preprocess.js';
import { parseScores } from '../study/eval.js';
import { intOption, parse, stringList } from './args.js';
import { namedModel, wasmChoice } from './common.js';
import { writeFileAtomic } from './io.js';
import { inspectText, runInspect } from '../study/inspect.js';
import { heatmapPng, type HeatmapRow } from '../study/heatmap.js';
import { checkSchemes, modelForScheme } from '../study/schemes.js';
import { calibrationImages, openNonEmpty } from '../study/features.js';

const USAGE = `usage: vitguard inspect --model M --data SPEC[,SPEC...] [--schemes fp32,w8a8,w4a8] [--limit N] [--scores msp,maxlogit,energy]
       [--json] [--calib SPEC] [--heatmap IMAGE -o out.png] [--wasm auto|simd|relaxed] [--data-root DIR]
Per layer × scheme: max/median token L2 norm, fraction of tokens above 5× the median norm, max/median |activation|,
attention-sink share, their change from fp32, the class token's and the registers' norms and attention share beside
the patches', and Spearman correlations of per-image outlier measures with OOD scores over all --data images. --heatmap draws, per scheme, the image, the last layer's class-token attention and the rollout.
--calib (ID training images) is needed for the outlier-aware schemes (w4a8-oa, w4a4-oa).`;

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    model: { type: 'string' }, data: { type: 'string' }, schemes: { type: 'string' }, limit: { type: 'string' }, scores: { type: 'string' },
    json: { type: 'boolean' }, heatmap: { type: 'string' }, out: { type: 'string', short: 'o' }, calib: { type: 'string' },
    wasm: { type: 'string' }, 'data-root': { type: 'string' },
  }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  if (!v.model || (!v.data && !v.heatmap)) throw new VitguardError('E_USAGE', `inspect needs --model and --data (or --heatmap)\n${USAGE}`);
  if (v.heatmap && !v.out) throw new VitguardError('E_USAGE', `--heatmap needs -o out.png\n${USAGE}`);
  const model = namedModel(v.model as string);
  const file = model.file;
  const schemes = checkSchemes(stringList(v.schemes ?? 'fp32,w8a8,w4a8'));
  const wasm = wasmChoice(v.wasm);
  const dataOpts = { dataRoot: v['data-root'] as string | undefined };
  const { config: c, preprocessing } = file.meta;
  let calib: { images: Float32Array; n: number } | undefined;
  if (schemes.some((s) => s.endsWith('-oa'))) {
    if (!v.calib) throw new VitguardError('E_USAGE', 'outlier-aware schemes need --calib SPEC (ID training images, e.g. fashion-mnist:train:64)');
    const ds = await openNonEmpty(v.calib as string, 'calibration', dataOpts);
    calib = await calibrationImages(file, ds, ds.size);
  }
  if (v.heatmap) {
    const d = decodeImage(new Uint8Array(readFileSync(v.heatmap as string)));
    const chw = preprocess({ data: d.data, width: d.width, height: d.height, channels: 4 }, preprocessing, c.imgSize, c.inChans);
    const rows: HeatmapRow[] = [];
    for (const scheme of schemes) {
      const engine = await Engine.create(await modelForScheme(file, scheme, { calib, wasm }), { wasm });
      try {
        const r = engine.forward(chw, { attention: true });
        rows.push({ chw, ...classTokenAttention(r.attention!, c) });
      } finally {
        engine.dispose();
      }
    }
    writeFileAtomic(v.out as string, heatmapPng(rows, file.meta));
    console.error(`${v.out}: rows ${schemes.join(', ')}; columns image, last-layer class-token attention, rollout`);
    if (!v.data) return 0;
  }
  const res = await runInspect({
    model, data: stringList(v.data), schemes,
    scores: v.scores ? parseScores(stringList(v.scores)) : undefined, limit: intOption(v.limit as string | undefined, '--limit'),
    calib, wasm, dataOpts, log: (l) => process.stderr.write(l + '\n'),
  });
  console.log(v.json ? JSON.stringify(res) : inspectText(res));
  return 0;
}
