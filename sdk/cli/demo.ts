// `npm start`: classify the sample images shipped in demos/samples/ (Fashion-MNIST items and out-of-distribution
// digits, letters and photos) with a shipped model and print what the model says and whether to trust it.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VitguardError } from '../errors.js';
import { createClassifier } from '../index.js';
import { parse } from './args.js';
import { wasmChoice } from './common.js';
import { formatOod } from './classify.js';

const USAGE = `usage: vitguard demo [--model FILE] [--samples DIR] [--wasm auto|simd|relaxed]
Classifies the sample images (file names say what they are: <set>-<truth>-N.png) with a shipped model.`;

/** The package root, found from this module (sdk/cli/ under vitest, lib/sdk/cli/ once built). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new VitguardError('E_USAGE', 'cannot find the vitguard package root');
    dir = up;
  }
  return dir;
}

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, { model: { type: 'string' }, samples: { type: 'string' }, wasm: { type: 'string' } }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  const root = packageRoot();
  const modelPath = resolve((v.model as string | undefined) ?? join(root, 'models', 'fmnist-deit.safetensors'));
  const samples = resolve((v.samples as string | undefined) ?? join(root, 'demos', 'samples'));
  if (!existsSync(modelPath)) throw new VitguardError('E_USAGE', `no model at ${modelPath}`);
  const files = readdirSync(samples).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
  if (!files.length) throw new VitguardError('E_USAGE', `no PNG/JPEG images in ${samples}`);
  const clf = await createClassifier({ model: new Uint8Array(readFileSync(modelPath)), wasm: wasmChoice(v.wasm) });
  try {
    const info = await clf.info();
    console.log(`vitguard demo — ${info.arch} (${info.scheme}, wasm ${info.wasm}), OOD detector: ${info.ood.method}${info.ood.fitted ? '' : ' (unfitted)'}`);
    console.log(`model trained on Fashion-MNIST; digits, letters and photos are out-of-distribution\n`);
    console.log(`${'image'.padEnd(30)} ${'predicted'.padEnd(22)} verdict`);
    // the file name says the set: fmnist-* is in distribution, everything else is not
    const tally = { id: { n: 0, ok: 0 }, ood: { n: 0, ok: 0 } };
    for (const f of files) {
      const r = await clf.classify(new Uint8Array(readFileSync(join(samples, f))), { topK: 1 });
      const top = r.top[0];
      console.log(`${f.padEnd(30)} ${`${top.label} ${(100 * top.prob).toFixed(0)}%`.padEnd(22)} ${formatOod(r.ood)}`);
      const t = f.startsWith('fmnist-') ? tally.id : tally.ood;
      t.n++;
      if (r.ood.isOOD === !f.startsWith('fmnist-')) t.ok++;
    }
    if (info.ood.fitted) {
      console.log(`\nthe detector accepted ${tally.id.ok} of ${tally.id.n} Fashion-MNIST images and flagged ${tally.ood.ok} of ${tally.ood.n} ` +
        `out-of-distribution ones (its threshold keeps 95 % of in-distribution images; measured rates per OOD set: docs/results.md)`);
    }
  } finally {
    await clf.dispose();
  }
  return 0;
}
