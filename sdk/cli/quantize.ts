import { readFileSync } from 'node:fs';
import { VitguardError } from '../errors.js';
import { encodeMeta, readModel, type ModelFile, type OutlierPlan } from '../format/model.js';
import { writeSafetensors } from '../format/safetensors.js';
import { DEFAULT_OA_CALIB_IMAGES, isOutlierAwareScheme, OA_SCHEMES, quantizeModel, SCHEMES } from '../quant/index.js';
import { calibrateActivationScales } from '../quant/calibrate.js';
import { OOD_META_KEY } from '../ood/threshold.js';
import { intOption, parse, type Parsed } from './args.js';
import { calibrationImages, openNonEmpty } from '../study/features.js';
import { modelForScheme } from '../study/schemes.js';
import { writeFileAtomic } from './io.js';

const USAGE = `usage: vitguard quantize IN -o OUT --scheme ${[...SCHEMES, ...OA_SCHEMES].join('|')} [--group 32|64|128] [--clip minmax|mse]
                         [--edges int8|fp32|int4] [--calib SPEC] [--calib-images N] [--outlier-channels K] [--patch-embed]
                         [--head] [--data-root DIR] [--json]
Quantizes the linear layers of an fp32 vitguard model: qkv, proj, fc1, fc2 at the scheme's bits; the patch embedding
and head(s) ("edges") at int8 for the int4 schemes and fp32 for w8a8 unless --edges says otherwise
(--patch-embed / --head put them at the scheme's own bits).
--clip mse picks per-channel/per-group clipping by least squared error over a few percentiles (RepQ-ViT).
--calib takes a dataset spec (a few dozen in-distribution images, e.g. fashion-mnist:train:64) and stores a static
per-tensor activation scale per layer instead of the default per-token scale computed at run time.
Outlier-aware schemes (w4a4-oa, w4a8-oa) need --calib: the first --calib-images (default ${DEFAULT_OA_CALIB_IMAGES}) images of SPEC
choose the plan stored in the file — which block layers run with 8-bit activations, which token rows (class,
distillation, registers) stay at 8 bits, which input channels stay in f32 (--outlier-channels, w4a8-oa) — exactly as
\`vitguard eval --schemes w4a4-oa --fit SPEC\` does, so the file gives eval's numbers. Refit its detector with
\`vitguard fit-ood OUT ...\` (or \`fit-ood FP32 --scheme w4a4-oa\`, which calibrates on the first images of --id).`;

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    out: { type: 'string', short: 'o' }, scheme: { type: 'string' }, group: { type: 'string' }, clip: { type: 'string' },
    edges: { type: 'string' }, calib: { type: 'string' }, 'patch-embed': { type: 'boolean' }, head: { type: 'boolean' }, 'data-root': { type: 'string' },
    'calib-images': { type: 'string' }, 'outlier-channels': { type: 'string' }, json: { type: 'boolean' },
  }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  if (positionals.length !== 1 || !v.out || !v.scheme) throw new VitguardError('E_USAGE', USAGE);
  const input = new Uint8Array(readFileSync(positionals[0]));
  const model = readModel(input);
  if (isOutlierAwareScheme(v.scheme as string)) return quantizeOutlierAwareCli(model, input.byteLength, v);
  for (const o of ['calib-images', 'outlier-channels']) {
    if (v[o] !== undefined) throw new VitguardError('E_USAGE', `--${o} applies to the outlier-aware schemes (${OA_SCHEMES.join(', ')}), not ${v.scheme}`);
  }
  const clip = (v.clip as string | undefined) ?? 'minmax';
  if (clip !== 'minmax' && clip !== 'mse') throw new VitguardError('E_SCHEME', `--clip must be minmax or mse, got ${clip}`);
  const edges = v.edges as string | undefined;
  if (edges !== undefined && edges !== 'int8' && edges !== 'fp32' && edges !== 'int4') throw new VitguardError('E_SCHEME', `--edges must be int8, fp32 or int4, got ${edges}`);
  const opts = {
    scheme: v.scheme as string,
    edges: edges as 'int8' | 'fp32' | 'int4' | undefined,
    group: intOption(v.group as string | undefined, '--group'),
    clip: clip as 'minmax' | 'mse',
    patchEmbed: Boolean(v['patch-embed']),
    head: Boolean(v.head),
  };
  // Check the scheme and options before spending time on calibration.
  quantizeModel(model, opts);
  const calib = v.calib ? { scales: await calibrateActivationScales(model, v.calib as string, { ...opts, dataRoot: v['data-root'] as string | undefined }) } : undefined;
  const q = quantizeModel(model, { ...opts, calib });
  const bytes = writeSafetensors(q.tensors, encodeMeta(q.meta));
  writeFileAtomic(v.out as string, bytes);
  if (v.json) {
    console.log(JSON.stringify({ out: v.out, arch: q.meta.arch, scheme: q.meta.scheme, bytes: bytes.byteLength, ratio: bytes.byteLength / input.byteLength }));
    return 0;
  }
  if (model.meta.extra[OOD_META_KEY]) console.log(`note: the fp32 model's OOD detector was not carried over (it is valid only for the scheme it was fitted on); refit with \`vitguard fit-ood ${v.out} ...\``);
  console.log(`${q.meta.arch} → ${q.meta.scheme.name}${calib ? ' (static activation scales)' : ''}: ${bytes.byteLength} bytes (${(bytes.byteLength / input.byteLength).toFixed(3)}× the input) → ${v.out}`);
  return 0;
}

/** w4a4-oa / w4a8-oa: the plan from the first --calib-images of --calib, built as `vitguard eval` builds it. */
async function quantizeOutlierAwareCli(model: ModelFile, inputBytes: number, v: Parsed['values']): Promise<number> {
  const scheme = v.scheme as string;
  if (!v.calib) throw new VitguardError('E_USAGE', `${scheme} needs --calib SPEC: in-distribution images to choose its plan from (e.g. --calib fashion-mnist:train:2000; the first ${DEFAULT_OA_CALIB_IMAGES} are probed)`);
  for (const o of ['edges', 'patch-embed', 'head']) {
    if (v[o] !== undefined) throw new VitguardError('E_USAGE', `--${o} does not apply to ${scheme}: its edges are quantized as in ${scheme.slice(0, -3)} (int8)`);
  }
  const clip = (v.clip as string | undefined) ?? 'minmax';
  if (clip !== 'minmax' && clip !== 'mse') throw new VitguardError('E_SCHEME', `--clip must be minmax or mse, got ${clip}`);
  if (model.meta.scheme.name !== 'fp32') throw new VitguardError('E_SCHEME', `model is already quantized (${model.meta.scheme.name}); quantize the fp32 model`);
  const ds = await openNonEmpty(v.calib as string, 'calibration', { dataRoot: v['data-root'] as string | undefined });
  if ((ds.channels === 1 ? 1 : 3) !== model.meta.config.inChans) {
    throw new VitguardError('E_DATA', `calibration set ${v.calib} has ${ds.channels === 1 ? 1 : 3}-channel images but the model takes ${model.meta.config.inChans}-channel input: calibrate on in-distribution images`);
  }
  const calib = await calibrationImages(model, ds, intOption(v['calib-images'] as string | undefined, '--calib-images') ?? DEFAULT_OA_CALIB_IMAGES);
  const q = await modelForScheme(model, scheme, {
    calib, outlierChannels: intOption(v['outlier-channels'] as string | undefined, '--outlier-channels', 0),
    group: intOption(v.group as string | undefined, '--group'), clip: clip as 'minmax' | 'mse',
  });
  const bytes = writeSafetensors(q.tensors, encodeMeta(q.meta));
  writeFileAtomic(v.out as string, bytes);
  const p = q.meta.scheme as unknown as OutlierPlan;
  if (v.json) {
    console.log(JSON.stringify({ out: v.out, arch: q.meta.arch, scheme: q.meta.scheme, bytes: bytes.byteLength, ratio: bytes.byteLength / inputBytes }));
    return 0;
  }
  if (model.meta.extra[OOD_META_KEY]) console.log(`note: the fp32 model's OOD detector was not carried over (it is valid only for the scheme it was fitted on); refit with \`vitguard fit-ood ${v.out} ...\``);
  console.log(`${q.meta.arch} → ${scheme} (plan from ${calib.n} images of ${calib.spec}: ${p.a8Layers.length} layer(s) at 8-bit activations` +
    `${p.a8Tokens ? `, the first ${p.a8Tokens} token row(s) at 8 bits elsewhere` : ''}${p.outlierChannels ? `, ${p.outlierChannels} f32 input channel(s) per block layer` : ''}): ` +
    `${bytes.byteLength} bytes (${(bytes.byteLength / inputBytes).toFixed(3)}× the input) → ${v.out}`);
  return 0;
}
