import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VitguardError } from '../errors.js';
import { convertCheckpoint, describeValues, parseLabels, type FolderFiles } from '../model/convert.js';
import { intOption, numberList, parse } from './args.js';
import { writeFileAtomic } from './io.js';

const USAGE = `usage: vitguard convert IN.safetensors|DIR -o OUT.safetensors [--json] [--arch NAME] [--heads N] [--eps F] [--img-size N]
                        [--global-pool token|avg] [--mean a,b,c] [--std a,b,c] [--crop-pct F] [--interpolation bicubic|bilinear]
                        [--labels FILE]
Reads a timm ViT / DeiT / DeiT3 checkpoint (register tokens and average-pooled heads included) and writes a vitguard model. DIR is a downloaded model folder: timm hub
layout (model.safetensors + config.json with architecture, label_names, pretrained_cfg) or Hugging Face transformers
layout (ViTForImageClassification, DeiTForImageClassification[WithTeacher]: model.safetensors + config.json +
preprocessor_config.json). The structure comes from tensor shapes; what shapes cannot tell (heads, eps,
preprocessing, labels) from the flags, then the folder's JSON files, then the input's metadata, then a timm
architecture name. Nothing is guessed: a value no source gives stops the conversion with an error naming its flag.
Every value is printed with its source (shape / flag / config.json / preprocessor_config.json / metadata / arch name / default).`;

/** The weights and side files of a model folder. */
function readFolder(dir: string): { weights: Uint8Array; files: FolderFiles } {
  const weights = join(dir, 'model.safetensors');
  if (!existsSync(weights)) {
    const why = existsSync(join(dir, 'model.safetensors.index.json')) ? 'it holds a sharded checkpoint (model.safetensors.index.json), which vitguard does not read'
      : existsSync(join(dir, 'pytorch_model.bin')) ? 'it holds pytorch_model.bin (a pickle); vitguard reads safetensors only: save with safe_serialization=True'
        : 'no model.safetensors in it';
    throw new VitguardError('E_USAGE', `${dir}: ${why}`);
  }
  const text = (name: string) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : undefined);
  return { weights: new Uint8Array(readFileSync(weights)), files: { config: text('config.json'), preprocessor: text('preprocessor_config.json') } };
}

function positiveNumber(s: string | undefined, what: string): number | undefined {
  if (s === undefined) return undefined;
  const v = Number(s);
  if (!(Number.isFinite(v) && v > 0)) throw new VitguardError('E_USAGE', `${what}: expected a positive number, got "${s}"`);
  return v;
}

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    out: { type: 'string', short: 'o' }, arch: { type: 'string' }, heads: { type: 'string' }, mean: { type: 'string' },
    std: { type: 'string' }, 'crop-pct': { type: 'string' }, interpolation: { type: 'string' }, eps: { type: 'string' },
    'img-size': { type: 'string' }, 'global-pool': { type: 'string' }, labels: { type: 'string' }, json: { type: 'boolean' },
  }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  if (positionals.length !== 1 || !v.out) throw new VitguardError('E_USAGE', USAGE);
  const interp = v.interpolation;
  const pool = v['global-pool'];
  if (pool !== undefined && pool !== 'token' && pool !== 'avg') throw new VitguardError('E_USAGE', `--global-pool must be token or avg, got ${pool}`);
  if (interp !== undefined && interp !== 'bicubic' && interp !== 'bilinear') throw new VitguardError('E_USAGE', `--interpolation must be bicubic or bilinear, got ${interp}`);
  const input = positionals[0];
  const { weights, files } = statSync(input, { throwIfNoEntry: false })?.isDirectory() ? readFolder(input) : { weights: new Uint8Array(readFileSync(input)), files: {} };
  const out = convertCheckpoint(weights, {
    arch: v.arch as string | undefined,
    heads: intOption(v.heads as string | undefined, '--heads'),
    imgSize: intOption(v['img-size'] as string | undefined, '--img-size'),
    globalPool: pool as 'token' | 'avg' | undefined,
    mean: numberList(v.mean as string | undefined, '--mean'),
    std: numberList(v.std as string | undefined, '--std'),
    cropPct: positiveNumber(v['crop-pct'] as string | undefined, '--crop-pct'),
    interpolation: interp as 'bicubic' | 'bilinear' | undefined,
    eps: positiveNumber(v.eps as string | undefined, '--eps'),
    labels: v.labels ? parseLabels(readFileSync(v.labels as string, 'utf8')) : undefined,
  }, files);
  writeFileAtomic(v.out as string, out.bytes);
  if (v.json) {
    console.log(JSON.stringify({ input, layout: out.layout, out: v.out, bytes: out.bytes.byteLength, arch: out.meta.arch, values: out.values, notes: out.notes }));
    return 0;
  }
  const c = out.meta.config;
  console.log(`${out.meta.arch}: ${c.depth} blocks, dim ${c.dim}, ${c.heads} heads, ${c.imgSize}px/${c.patch}, ${c.numClasses} classes` +
    `${c.distilled ? ', distilled' : ''}${c.layerScale ? ', layer scale' : ''}${c.noEmbedClass ? ', no_embed_class' : ''}` +
    `${c.classToken === false ? ', no class token' : ''}${c.regTokens ? `, ${c.regTokens} registers` : ''}${c.globalPool === 'avg' ? `, avg pool${c.fcNorm ? ' + fc_norm' : ''}` : ''}` +
    ` → ${v.out} (${out.bytes.byteLength} bytes)`);
  console.log(`values (source), ${out.layout} layout:`);
  for (const line of describeValues(out.values)) console.log(line);
  for (const note of out.notes) console.log(`note: ${note}`);
  return 0;
}
