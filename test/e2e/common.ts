// Shared by the end-to-end tests: paths, the built artefacts they need, and Node's answer for the same image (the
// Node bundle, dist/node, with the simd build) to compare the browser's and workerd's answers against.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ARTIFACTS = join(ROOT, 'artifacts');
export const SAMPLES = join(ROOT, 'demos', 'samples');

export interface Manifest {
  model: string;
  trained: boolean;
  schemes: Record<'fp32' | 'w8a8' | 'w4a8' | 'w4a4-oa', string>;
  sizes: Record<string, number>;
  samples: { file: string; url: string; set: string; truth: string; inDistribution: boolean }[];
}

/** Fail early, saying what to run, when the build is missing. */
export function requireBuilt(...paths: string[]): void {
  for (const p of paths) {
    if (!existsSync(join(ROOT, p))) throw new Error(`${p} is missing: run \`npm run build\` first (npm run test:e2e does)`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
}

export function manifest(): Manifest {
  return JSON.parse(readFileSync(join(ROOT, 'dist', 'demo', 'manifest.json'), 'utf8'));
}

export interface NodeAnswer { label: string; prob: number; isOOD: boolean | null; score: number; verdict: 'id' | 'ood' | 'unknown' }

/** Classify each file with the Node bundle (in-thread, the given wasm build). */
export async function nodeAnswers(modelPath: string, files: string[], wasm: 'simd' | 'relaxed' | 'auto' = 'simd'): Promise<Map<string, NodeAnswer>> {
  const api = (await import(join(ROOT, 'dist', 'node', 'index.js'))) as typeof import('../../sdk/index.js');
  const vg = await api.createClassifier({ model: new Uint8Array(readFileSync(modelPath)), wasm });
  const out = new Map<string, NodeAnswer>();
  try {
    for (const f of files) {
      const r = await vg.classify(new Uint8Array(readFileSync(join(SAMPLES, f))), { topK: 5 });
      const isOOD = r.ood.isOOD ?? null;
      out.set(f, { label: r.top[0].label, prob: r.top[0].prob, isOOD, score: r.ood.score, verdict: isOOD === null ? 'unknown' : isOOD ? 'ood' : 'id' });
    }
  } finally {
    await vg.dispose();
  }
  return out;
}
