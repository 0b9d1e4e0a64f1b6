// `npm run test:package`: packs the package from a clean copy of the tree (prepack builds wasm, types and bundles),
// installs the tarball into an empty folder and uses it as a user would (import in Node, the CLI), and runs the
// ecosystem's checkers (publint, @arethetypeswrong/cli) on the tarball. Not part of `npm test`: it builds everything
// (about a minute) and installs from the npm cache (registry on a cold cache).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/package/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
