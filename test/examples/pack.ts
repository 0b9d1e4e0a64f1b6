// globalSetup of `npm run test:examples`: the package as a user gets it, packed once for every example test by
// tools/pack.mjs (`npm pack` in a clean copy of the working tree, so this checkout's dist/ and lib/ are left alone).
// VITGUARD_TARBALL=/path/to/vitguard-x.tgz uses a tarball made before (as test/package does).

import { existsSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TestProject } from 'vitest/node';
// @ts-expect-error tools/pack.mjs is plain JavaScript without declarations
import { packFromCleanCopy } from '../../tools/pack.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Absolute path of the packed vitguard-<version>.tgz. */
    tarball: string;
  }
}

export default function setup(project: TestProject) {
  const given = process.env.VITGUARD_TARBALL;
  if (given && !existsSync(given)) throw new Error(`VITGUARD_TARBALL=${given} does not exist`);
  const t0 = Date.now();
  const tarball: string = given ?? (packFromCleanCopy() as { tarball: string }).tarball;
  if (!given) console.log(`[examples] npm pack: ${(statSync(tarball).size / 1024).toFixed(0)} KiB in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  project.provide('tarball', tarball);
  return () => {
    if (!given) rmSync(dirname(tarball), { recursive: true, force: true });
  };
}
