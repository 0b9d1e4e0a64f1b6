import { readFileSync } from 'node:fs';
import { VitguardError } from '../errors.js';
import { convertCheckpoint, parseLabels } from '../model/convert.js';
import { numberList, parse } from './args.js';
import { writeFileAtomic } from './io.js';

const USAGE = `usage: vitguard convert IN.safetensors -o OUT.safetensors [--arch NAME] [--heads N] [--mean a,b,c] [--std a,b,c]
                        [--crop-pct F] [--interpolation bicubic|bilinear] [--eps F] [--labels FILE]
Reads a timm ViT / DeiT / DeiT3 checkpoint, infers the config from tensor shapes and writes a vitguard model.
Options override what shapes cannot tell; defaults come from the input's metadata, then timm's values for --arch.`;

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    out: { type: 'string', short: 'o' }, arch: { type: 'string' }, heads: { type: 'string' }, mean: { type: 'string' },
    std: { type: 'string' }, 'crop-pct': { type: 'string' }, interpolation: { type: 'string' }, eps: { type: 'string' },
    labels: { type: 'string' },
  }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  if (positionals.length !== 1 || !v.out) throw new VitguardError('E_USAGE', USAGE);
  const interp = v.interpolation;
  if (interp !== undefined && interp !== 'bicubic' && interp !== 'bilinear') throw new VitguardError('E_USAGE', `--interpolation must be bicubic or bilinear, got ${interp}`);
  const out = convertCheckpoint(new Uint8Array(readFileSync(positionals[0])), {
    arch: v.arch as string | undefined,
    heads: v.heads !== undefined ? Number(v.heads) : undefined,
    mean: numberList(v.mean as string | undefined, '--mean'),
    std: numberList(v.std as string | undefined, '--std'),
    cropPct: v['crop-pct'] !== undefined ? Number(v['crop-pct']) : undefined,
    interpolation: interp as 'bicubic' | 'bilinear' | undefined,
    eps: v.eps !== undefined ? Number(v.eps) : undefined,
    labels: v.labels ? parseLabels(readFileSync(v.labels as string, 'utf8')) : undefined,
  });
  writeFileAtomic(v.out as string, out.bytes);
  const c = out.meta.config;
  console.log(`${out.meta.arch}: ${c.depth} blocks, dim ${c.dim}, ${c.heads} heads, ${c.imgSize}px/${c.patch}, ${c.numClasses} classes` +
    `${c.distilled ? ', distilled' : ''}${c.layerScale ? ', layer scale' : ''}${c.noEmbedClass ? ', no_embed_class' : ''} → ${v.out} (${out.bytes.byteLength} bytes)`);
  return 0;
}
