import { existsSync, readFileSync } from 'node:fs';
import { VitguardError } from '../errors.js';
import { classTokenAttention } from '../classifier.js';
import { Engine } from '../engine/index.js';
import { decodeImage } from '../image/decode.js';
import { preprocess } from '../image/preprocess.js';
import { parseScores } from '../study/eval.js';
import { intOption, parse, stringList } from './args.js';
import { namedModel, wasmChoice } from './common.js';
import { writeFileAtomic } from './io.js';
import { inspectMarkdown, inspectText, runInspect, type InspectResult } from '../study/inspect.js';
import { heatmapPng, type HeatmapRow } from '../study/heatmap.js';
import { checkSchemes, modelForScheme } from '../study/schemes.js';
import { calibrationImages, openNonEmpty } from '../study/features.js';

const USAGE = `usage: vitguard inspect --model M [--model M2 ...] --data SPEC[,SPEC...] [--schemes fp32,w8a8,w4a8] [--limit N]
       [--scores msp,maxlogit,energy] [--json] [--markdown FILE] [--calib SPEC] [--heatmap IMAGE -o out.png]
       [--wasm auto|simd|relaxed] [--data-root DIR]
Per layer × scheme: max/median token L2 norm, fraction of tokens above 5× the median norm, max/median |activation|,
attention-sink share, their change from fp32, the class token's and the registers' norms and attention share beside
the patches', and Spearman correlations of per-image outlier measures with OOD scores over all --data images. --heatmap draws, per scheme, the image, the last layer's class-token attention and the rollout.
--calib (ID training images) is needed for the outlier-aware schemes (w4a8-oa, w4a4-oa). Several --model: one result
each (--json: an array); --markdown FILE appends a section comparing them per scheme (e.g. a ViT with registers
against the plain one) to FILE.`;

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    model: { type: 'string', multiple: true }, markdown: { type: 'string' }, data: { type: 'string' }, schemes: { type: 'string' }, limit: { type: 'string' }, scores: { type: 'string' },
    json: { type: 'boolean' }, heatmap: { type: 'string' }, out: { type: 'string', short: 'o' }, calib: { type: 'string' },
    wasm: { type: 'string' }, 'data-root': { type: 'string' },
  }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  const paths = (v.model ?? []) as unknown as string[];
  if (!paths.length || (!v.data && !v.heatmap)) throw new VitguardError('E_USAGE', `inspect needs --model and --data (or --heatmap)\n${USAGE}`);
  if (v.heatmap && !v.out) throw new VitguardError('E_USAGE', `--heatmap needs -o out.png\n${USAGE}`);
  if (v.heatmap && paths.length > 1) throw new VitguardError('E_USAGE', '--heatmap draws one model: give one --model');
  if (v.markdown && !v.data) throw new VitguardError('E_USAGE', '--markdown needs --data');
  const models = paths.map(namedModel);
  const model = models[0];
  const file = model.file;
  const schemes = checkSchemes(stringList(v.schemes ?? 'fp32,w8a8,w4a8'));
  const wasm = wasmChoice(v.wasm);
  const dataOpts = { dataRoot: v['data-root'] as string | undefined };
  const { config: c, preprocessing } = file.meta;
  const calibFor = async (f: typeof file): Promise<{ images: Float32Array; n: number } | undefined> => {
    if (!schemes.some((s) => s.endsWith('-oa'))) return undefined;
    if (!v.calib) throw new VitguardError('E_USAGE', 'outlier-aware schemes need --calib SPEC (ID training images, e.g. fashion-mnist:train:64)');
    const ds = await openNonEmpty(v.calib as string, 'calibration', dataOpts);
    return calibrationImages(f, ds, ds.size);
  };
  const calib = await calibFor(file);
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
  const results: InspectResult[] = [];
  for (const m of models) {
    results.push(await runInspect({
      model: m, data: stringList(v.data), schemes,
      scores: v.scores ? parseScores(stringList(v.scores)) : undefined, limit: intOption(v.limit as string | undefined, '--limit'),
      calib: m === model ? calib : await calibFor(m.file), wasm, dataOpts, log: (l) => process.stderr.write(`${m.name}: ${l.trim()}\n`),
    }));
  }
  if (v.json) console.log(JSON.stringify(results.length === 1 ? results[0] : results));
  else console.log(results.map(inspectText).join('\n\n'));
  if (v.markdown) {
    const path = v.markdown as string;
    const before = existsSync(path) ? readFileSync(path, 'utf8') : '';
    const gap = !before ? '' : before.endsWith('\n\n') ? '' : before.endsWith('\n') ? '\n' : '\n\n'; // a blank line before the section
    writeFileAtomic(path, `${before}${gap}${inspectMarkdown(results)}`);
    console.error(`${path}: appended the outlier-token comparison of ${models.map((m) => m.name).join(', ')}`);
  }
  return 0;
}
