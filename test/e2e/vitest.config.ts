// `npm run test:e2e` (after `npm run build`): the browser demo in real headless Chromium and the Cloudflare Worker in
// real workerd. Not part of `npm test`: they need the built dist/ and Debian's chromium.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
