// A thin layer over node:util parseArgs that turns its errors into VitguardError('E_USAGE').

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { VitguardError } from '../errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: { [name: string]: string | boolean | undefined };
  positionals: string[];
}

export function parse(argv: string[], options: Options, usage: string): Parsed {
  try {
    return parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' }, ...options }, allowPositionals: true, strict: true }) as Parsed;
  } catch (e) {
    throw new VitguardError('E_USAGE', `${(e as Error).message}\n${usage}`);
  }
}

/** "a, b,,c" → ['a', 'b', 'c']: a comma-separated option's items, trimmed, empty ones dropped. */
export function stringList(s: string | boolean | undefined): string[] {
  return String(s).split(',').map((x) => x.trim()).filter(Boolean);
}

export function numberList(s: string | undefined, what: string): number[] | undefined {
  if (s === undefined) return undefined;
  const v = s.split(',').map((x) => Number(x.trim()));
  if (!v.length || v.some((x) => !Number.isFinite(x))) throw new VitguardError('E_USAGE', `${what}: expected comma-separated numbers, got "${s}"`);
  return v;
}

export function intOption(s: string | undefined, what: string, min = 1): number | undefined {
  if (s === undefined) return undefined;
  const v = Number(s);
  if (!Number.isInteger(v) || v < min) throw new VitguardError('E_USAGE', `${what}: expected an integer ≥ ${min}, got "${s}"`);
  return v;
}
