import { VitguardError } from '../errors.js';
import { writeSafetensors } from '../format/safetensors.js';
import { configForArch } from '../model/arch.js';
import { randomCheckpoint } from '../model/random.js';
import { intOption, parse } from './args.js';
import { writeFileAtomic } from './io.js';

const USAGE = `usage: vitguard random-model --arch NAME [--seed N] -o FILE
Writes a timm-layout checkpoint with seeded random weights at the shapes of a timm architecture, e.g.
deit_tiny_patch16_224, deit_small_patch16_224, deit_tiny_distilled_patch16_224, deit3_small_patch16_224,
vit_small_patch16_224, vit_base_patch16_224. Convert it with \`vitguard convert\` to run it.`;

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, { arch: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string', short: 'o' } }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  if (!v.arch || !v.out) throw new VitguardError('E_USAGE', USAGE);
  const arch = v.arch as string;
  const tensors = randomCheckpoint(configForArch(arch), intOption(v.seed as string | undefined, '--seed', 0) ?? 0);
  const bytes = writeSafetensors(tensors, { arch });
  writeFileAtomic(v.out as string, bytes);
  console.log(`${arch}: ${tensors.size} tensors, ${(bytes.byteLength / 2 ** 20).toFixed(1)} MiB → ${v.out}`);
  return 0;
}
