// Shared by the example tests: copy an example out of the repository and install the packed tarball into it (so
// nothing can resolve from this checkout), run a tool there, serve a folder of static files, and Node's answer for
// an image from the same installed package.

import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, normalize, relative, sep } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ARTIFACTS = join(ROOT, 'artifacts');
export const SAMPLES = join(ROOT, 'demos', 'samples');
mkdirSync(ARTIFACTS, { recursive: true });

/** Run a command; resolves to its stdout+stderr, rejects with them on a non-zero exit. */
export function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      const out = `${stdout}${stderr}`;
      if (err) reject(new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${err.message}\n${out.slice(-6000)}`));
      else resolve(out);
    });
  });
}

/**
 * examples/<name> copied to a fresh temporary folder (without node_modules, dist or a local model), then
 * `npm install <tarball>` there: the example's own dependencies from the registry and vitguard from the tarball.
 */
export async function installExample(name: string, tarball: string): Promise<string> {
  const dir = join(mkdtempSync(join(tmpdir(), `vitguard-example-${name}-`)), name);
  const src = join(ROOT, 'examples', name);
  cpSync(src, dir, {
    recursive: true,
    filter: (p) => {
      const rel = relative(src, p).split(sep);
      return !['node_modules', 'dist', '.wrangler', 'package-lock.json'].includes(rel[0]) && !p.endsWith('.safetensors');
    },
  });
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], dir);
  return dir;
}

/** Remove what installExample made (keep it with VITGUARD_KEEP_EXAMPLES=1, to look at a build). */
export function removeExample(dir: string | undefined): void {
  if (dir && !process.env.VITGUARD_KEEP_EXAMPLES) rmSync(dirname(dir), { recursive: true, force: true });
  else if (dir) console.log(`[examples] kept ${dir}`);
}

/** The vitguard installed in `dir`, as Node resolves `import 'vitguard'` there (the "node" export). */
export async function installedVitguard(dir: string): Promise<typeof import('../../sdk/index.js')> {
  const entry = createRequire(join(dir, 'package.json')).resolve('vitguard');
  if (!entry.startsWith(join(dir, 'node_modules', 'vitguard') + sep)) throw new Error(`vitguard resolved outside ${dir}: ${entry}`);
  return import(pathToFileURL(entry).href);
}

export interface NodeAnswer { label: string; isOOD: boolean | null; verdict: 'id' | 'ood' | 'unknown'; score: number; top: { label: string; prob: number }[] }

/**
 * Classify each sample file with the installed package in Node (in-thread, the given wasm build). The relaxed build
 * runs in a child process: Node 20 needs --experimental-wasm-relaxed-simd, and --no-liftoff because its baseline
 * compiler gets the relaxed int8 dot wrong until a function tiers up (FACTS.md).
 */
export async function nodeAnswers(dir: string, model: Uint8Array, files: string[], wasm: 'simd' | 'relaxed' = 'simd'): Promise<Map<string, NodeAnswer>> {
  if (wasm === 'relaxed') {
    const script = join(dir, '.node-answers.mjs');
    const modelPath = join(dir, '.node-answers.safetensors');
    writeFileSync(modelPath, model);
    writeFileSync(script, `import { createClassifier } from 'vitguard';
import { readFileSync, writeFileSync } from 'node:fs';
const [modelPath, samples, ...files] = process.argv.slice(2);
const vg = await createClassifier({ model: new Uint8Array(readFileSync(modelPath)), wasm: 'relaxed' });
const out = [];
for (const f of files) {
  const r = await vg.classify(new Uint8Array(readFileSync(samples + '/' + f)), { topK: 5 });
  out.push([f, { label: r.top[0].label, isOOD: r.ood.isOOD ?? null, score: r.ood.score, top: r.top.map((t) => ({ label: t.label, prob: t.prob })) }]);
}
await vg.dispose();
writeFileSync(modelPath + '.json', JSON.stringify(out));
`);
    const flags = Number(process.versions.node.split('.')[0]) < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
    await run(process.execPath, [...flags, '--no-liftoff', script, modelPath, SAMPLES, ...files], dir);
    const rows = JSON.parse(readFileSync(`${modelPath}.json`, 'utf8')) as [string, Omit<NodeAnswer, 'verdict'>][];
    return new Map(rows.map(([f, a]) => [f, { ...a, verdict: a.isOOD === null ? 'unknown' : a.isOOD ? 'ood' : 'id' }]));
  }
  const api = await installedVitguard(dir);
  const vg = await api.createClassifier({ model, wasm });
  const out = new Map<string, NodeAnswer>();
  try {
    for (const f of files) {
      const r = await vg.classify(new Uint8Array(readFileSync(join(SAMPLES, f))), { topK: 5 });
      const isOOD = r.ood.isOOD ?? null;
      out.set(f, { label: r.top[0].label, isOOD, verdict: isOOD === null ? 'unknown' : isOOD ? 'ood' : 'id', score: r.ood.score, top: r.top.map((t) => ({ label: t.label, prob: t.prob })) });
    }
  } finally {
    await vg.dispose();
  }
  return out;
}

/** One sample of each set in demos/samples (fmnist, mnist, notmnist, cifar10): in and out of distribution. */
export function pickSamples(): string[] {
  const files = readdirSync(SAMPLES).filter((f) => f.endsWith('.png')).sort();
  const bySet = new Map<string, string>();
  for (const f of files) if (!bySet.has(f.split('-')[0])) bySet.set(f.split('-')[0], f);
  return [...bySet.values()];
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png',
  '.svg': 'image/svg+xml', '.safetensors': 'application/octet-stream',
};

/** A plain static file server for a built app (what any static host does; no COOP/COEP headers). */
export function serveDir(dir: string): Promise<{ url: string; close(): Promise<void>; log: string[] }> {
  const log: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    log.push(path);
    let rel = normalize(path).replace(/^[/\\]+/, '');
    if (rel === '' || rel.endsWith('/')) rel += 'index.html';
    if (rel.split(/[/\\]/).includes('..')) { res.writeHead(400).end(); return; }
    try {
      const body = readFileSync(join(dir, rel));
      res.writeHead(200, { 'content-type': TYPES[extname(rel)] ?? 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${basename(rel)}`);
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    resolve({ url: `http://127.0.0.1:${port}/`, log, close: () => new Promise<void>((r) => server.close(() => r())) });
  }));
}
