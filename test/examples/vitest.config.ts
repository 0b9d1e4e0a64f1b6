// `npm run test:examples`: the example apps (examples/) built from the packed tarball with the tools users use (Vite,
// Wrangler) and run where users run them (Chromium, Firefox ESR and WebKitGTK; workerd). Not part of `npm test`:
// they install from the npm registry and need Debian's browsers (.ci/run installs them).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/examples/**/*.test.ts'],
    globalSetup: ['test/examples/pack.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
