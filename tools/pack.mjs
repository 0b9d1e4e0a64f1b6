// `npm pack` from a clean copy of the working tree: what a clean checkout would publish, without touching this
// checkout's lib/ and dist/ (prepack cleans and rebuilds them, which would pull them from under anything running
// here). The copy holds every file git tracks or would track (untracked, not ignored), and links node_modules.
//
//   node tools/pack.mjs [--out DIR]      prints the tarball's path (default DIR: a fresh temp folder)
//
// The package test (test/package) and the example apps install the tarball this makes.

import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}) in ${cwd}:\n${r.stdout}\n${r.stderr}`.slice(-6000));
  return r.stdout;
}

/** The working tree's files as git sees them (tracked + untracked-not-ignored), minus those deleted since. */
function sourceFiles() {
  const out = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], ROOT);
  return [...new Set(out.split('\0').filter(Boolean))].filter((f) => !f.startsWith('node_modules/') && existsSync(join(ROOT, f)) && statSync(join(ROOT, f)).isFile());
}

/**
 * Copy the tree into `work/src`, run `npm pack` there (prepack builds wasm, types and bundles), write the tarball
 * into `outDir`. Returns { tarball, pack } where pack is npm's JSON report (files, size, unpackedSize, entryCount).
 */
export function packFromCleanCopy(outDir = mkdtempSync(join(tmpdir(), 'vitguard-pack-'))) {
  mkdirSync(outDir, { recursive: true });
  const src = mkdtempSync(join(tmpdir(), 'vitguard-pack-src-'));
  try {
    for (const f of sourceFiles()) {
      mkdirSync(dirname(join(src, f)), { recursive: true });
      cpSync(join(ROOT, f), join(src, f));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'), 'dir');
    const json = run('npm', ['pack', '--json', '--pack-destination', resolve(outDir)], src);
    // npm prints the lifecycle scripts' output before the JSON: the report is the last top-level array
    const pack = JSON.parse(json.slice(json.lastIndexOf('\n[') + 1))[0];
    const tarball = join(resolve(outDir), pack.filename);
    if (!existsSync(tarball)) throw new Error(`npm pack reported ${pack.filename} but ${tarball} does not exist`);
    return { tarball, pack };
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  const { tarball, pack } = packFromCleanCopy(i > 0 ? process.argv[i + 1] : undefined);
  console.error(`${pack.entryCount} files, ${pack.size} bytes packed, ${pack.unpackedSize} unpacked (${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).name}@${pack.version})`);
  console.log(tarball);
}
