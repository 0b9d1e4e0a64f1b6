// Shared by the end-to-end tests: paths, the built artefacts they need, and Node's answer for the same image (the
// Node bundle, dist/node, with the simd build) to compare the browser's and workerd's answers against.

import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
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

// --- workerd ------------------------------------------------------------------------------------------------------

/** miniflare options that run the Cloudflare demo with the module rules of demos/cloudflare/wrangler.toml. */
export const DEMO_WORKER = {
  modules: true,
  scriptPath: join(ROOT, 'demos', 'cloudflare', 'worker.js'),
  modulesRoot: ROOT,
  modulesRules: [
    { type: 'ESModule' as const, include: ['**/*.js'] },
    { type: 'CompiledWasm' as const, include: ['**/*.wasm'] },
    { type: 'Data' as const, include: ['**/*.safetensors'] },
  ],
  compatibilityDate: '2026-04-01',
};

/** The pid of the workerd process this test process started (miniflare spawns it as a child), or null. */
export function findWorkerd(): number | null {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (comm === 'workerd' && ppid === process.pid) return Number(pid);
    } catch { /* a process that ended while we looked */ }
  }
  return null;
}

/** Resident set of a process (kB): now and peak (VmRSS, VmHWM from /proc). */
export function processMemoryKb(pid: number): { rssKb: number; peakKb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rssKb: kb('VmRSS'), peakKb: kb('VmHWM') };
}

/** The workerd process this test started: its resident set now and peak (kB), or null when none runs. */
export function workerdMemory(): { rssKb: number; peakKb: number; pid: number } | null {
  const pid = findWorkerd();
  if (pid === null) return null;
  try { return { ...processMemoryKb(pid), pid }; } catch { return null; }
}
