import { readFileSync } from 'node:fs';
import { VitguardError } from '../errors.js';
import { encodeMeta, readModel } from '../format/model.js';
import { writeSafetensors } from '../format/safetensors.js';
import { quantizeModel, SCHEMES } from '../quant/index.js';
import { calibrateActivationScales } from '../quant/calibrate.js';
import { OOD_META_KEY } from '../ood/threshold.js';
import { intOption, parse } from './args.js';
import { writeFileAtomic } from './io.js';

const USAGE = `usage: vitguard quantize IN -o OUT --scheme ${SCHEMES.join('|')} [--group 32|64|128] [--clip minmax|mse]
                         [--edges int8|fp32|int4] [--calib SPEC] [--patch-embed] [--head] [--data-root DIR]
Quantizes the linear layers of an fp32 vitguard model: qkv, proj, fc1, fc2 at the scheme's bits; the patch embedding
and head(s) ("edges") at int8 for the int4 schemes and fp32 for w8a8 unless --edges says otherwise
(--patch-embed / --head put them at the scheme's own bits).
--clip mse picks per-channel/per-group clipping by least squared error over a few percentiles (RepQ-ViT).
--calib takes a dataset spec (a few dozen in-distribution images, e.g. fashion-mnist:train:64) and stores a static
per-tensor activation scale per layer instead of the default per-token scale computed at run time.`;

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    out: { type: 'string', short: 'o' }, scheme: { type: 'string' }, group: { type: 'string' }, clip: { type: 'string' },
    edges: { type: 'string' }, calib: { type: 'string' }, 'patch-embed': { type: 'boolean' }, head: { type: 'boolean' }, 'data-root': { type: 'string' },
  }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  if (positionals.length !== 1 || !v.out || !v.scheme) throw new VitguardError('E_USAGE', USAGE);
  const input = new Uint8Array(readFileSync(positionals[0]));
  const model = readModel(input);
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
  if (model.meta.extra[OOD_META_KEY]) console.log(`note: the fp32 model's OOD detector was not carried over (it is valid only for the scheme it was fitted on); refit with \`vitguard fit-ood ${v.out} ...\``);
  console.log(`${q.meta.arch} → ${q.meta.scheme.name}${calib ? ' (static activation scales)' : ''}: ${bytes.byteLength} bytes (${(bytes.byteLength / input.byteLength).toFixed(3)}× the input) → ${v.out}`);
  return 0;
}
