import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'test/package/**', 'test/examples/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // `npm test` needs nothing beyond `npm ci`: Fashion-MNIST comes from the committed 200+200-image fixture,
    // not from Debian's dataset-fashion-mnist (tests of the Debian path name it explicitly and skip without it).
    env: { VITGUARD_FMNIST: fileURLToPath(new URL('./test/fixtures/data/fashion-mnist', import.meta.url)) },
  },
});
