// Dataset spec strings. Pure.
//
//   fashion-mnist:train | fashion-mnist:test
//   mnist:train | mnist:test
//   notmnist:test
//   cifar10:test
//   folder:PATH                      ImageFolder layout; PATH may itself contain ':'
//   noise:gaussian | noise:uniform   optionally followed by :WxH or :WxHxC (image size, default 28x28x1)
// Any of them may end in :N (a positive integer) → a seeded, class-balanced sample of N images (for noise: N images).
// A trailing ':digits' is always read as N, so a folder whose name is all digits needs a trailing '/'.

import { VitguardError } from '../errors.js';

export type DatasetSpec =
  | { kind: 'fashion-mnist' | 'mnist'; split: 'train' | 'test'; n?: number }
  | { kind: 'notmnist' | 'cifar10'; split: 'test'; n?: number }
  | { kind: 'folder'; path: string; n?: number }
  | { kind: 'noise'; dist: 'gaussian' | 'uniform'; size?: NoiseSize; n?: number };

export interface NoiseSize {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

export const SPEC_HELP =
  'fashion-mnist:train|test, mnist:train|test, notmnist:test, cifar10:test, folder:PATH, ' +
  'noise:gaussian|uniform[:WxH[xC]], each optionally ending in :N for a class-balanced sample of N';

function bad(spec: string, why: string): never {
  throw new VitguardError('E_INPUT', `bad dataset spec "${spec}": ${why}. Known specs: ${SPEC_HELP}`);
}

export function parseSpec(spec: string): DatasetSpec {
  const colon = spec.indexOf(':');
  if (colon < 0) bad(spec, 'expected KIND:ARGS');
  const kind = spec.slice(0, colon);
  let rest = spec.slice(colon + 1);
  let n: number | undefined;
  const m = /:(\d+)$/.exec(rest);
  if (m) {
    n = Number(m[1]);
    if (!Number.isSafeInteger(n) || n <= 0) bad(spec, `sample size ${m[1]} must be a positive integer`);
    rest = rest.slice(0, m.index);
  }
  const withN = <T extends object>(o: T): T & { n?: number } => (n === undefined ? o : { ...o, n });

  switch (kind) {
    case 'fashion-mnist':
    case 'mnist':
      if (rest !== 'train' && rest !== 'test') bad(spec, `${kind} has splits train and test`);
      return withN({ kind, split: rest });
    case 'notmnist':
    case 'cifar10':
      if (rest !== 'test') bad(spec, `${kind} has only the test split here`);
      return withN({ kind, split: 'test' as const });
    case 'folder':
      if (rest === '') bad(spec, 'folder: needs a path');
      return withN({ kind, path: rest });
    case 'noise': {
      const [dist, size, ...extra] = rest.split(':');
      if (dist !== 'gaussian' && dist !== 'uniform') bad(spec, 'noise is noise:gaussian or noise:uniform');
      if (extra.length > 0) bad(spec, `unexpected "${extra.join(':')}"`);
      if (size === undefined) return withN({ kind, dist });
      const sm = /^(\d+)x(\d+)(?:x([134]))?$/.exec(size);
      if (!sm) bad(spec, `noise size "${size}" must be WxH or WxHxC with C in 1, 3, 4`);
      const width = Number(sm[1]);
      const height = Number(sm[2]);
      if (width <= 0 || height <= 0) bad(spec, `noise size "${size}" must be positive`);
      return withN({ kind, dist, size: { width, height, channels: Number(sm[3] ?? 1) as 1 | 3 | 4 } });
    }
    default:
      return bad(spec, `unknown dataset kind "${kind}"`);
  }
}
