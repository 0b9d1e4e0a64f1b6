import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { VitguardError } from '../errors.js';
import { createClassifier } from '../index.js';
import { intOption, parse } from './args.js';
import { wasmChoice } from './common.js';

const USAGE = `usage: vitguard classify MODEL IMAGE... [--top K] [--json] [--wasm auto|simd|relaxed]
Decodes PNG/JPEG images, applies the model's preprocessing and prints the top-K labels with probabilities
and the OOD verdict (the model's fitted detector, else the MSP score).`;

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    top: { type: 'string' }, json: { type: 'boolean' }, wasm: { type: 'string' },
  }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  if (positionals.length < 2) throw new VitguardError('E_USAGE', USAGE);
  const [modelPath, ...images] = positionals;
  const k = intOption(v.top as string | undefined, '--top') ?? 5;
  const clf = await createClassifier({ model: new Uint8Array(readFileSync(modelPath)), wasm: wasmChoice(v.wasm) });
  try {
    const results = [];
    for (const path of images) {
      const r = await clf.classify(new Uint8Array(readFileSync(path)), { topK: k, logits: true });
      results.push({ image: path, top: r.top, ood: r.ood, logits: Array.from(r.logits!), timings: r.timings });
    }
    const info = await clf.info();
    if (v.json) {
      console.log(JSON.stringify({ model: modelPath, wasm: info.wasm, scheme: info.scheme, results }));
    } else {
      for (const r of results) {
        console.log(`${basename(r.image)}  (${r.timings.inferMs.toFixed(1)} ms)`);
        for (const t of r.top) console.log(`  ${(100 * t.prob).toFixed(1).padStart(5)} %  ${t.label}`);
        console.log(`  ${formatOod(r.ood)}`);
      }
    }
  } finally {
    await clf.dispose();
  }
  return 0;
}

export function formatOod(o: { method: string; score: number; threshold: number | null; isOOD: boolean | null }): string {
  if (o.threshold === null) return `OOD score (${o.method}) ${o.score.toFixed(3)} — no fitted threshold (run \`vitguard fit-ood\`)`;
  return `${o.isOOD ? 'OUT-OF-DISTRIBUTION' : 'in-distribution'}: ${o.method} ${o.score.toFixed(3)} ${o.isOOD ? '<' : '≥'} threshold ${o.threshold.toFixed(3)}`;
}
