// The option loop the benches share: `--name value` pairs read in order, with the checks every bench repeats.

export type WasmBuild = 'simd' | 'relaxed';

export interface OptionReader {
  /** The next argument, the option's value (usage() when there is none). */
  value(): string;
  /** The value as an integer ≥ min. */
  int(min: number): number;
  /** The value as a comma-separated list, blanks dropped. */
  list(): string[];
  /** The value as a list of wasm builds (simd, relaxed). */
  builds(): WasmBuild[];
}

export function splitList(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

/** Calls on(option, reader) for each option of argv; the reader takes the option's value from the arguments. */
export function eachOption(argv: string[], usage: (message: string) => never, on: (option: string, r: OptionReader) => void): void {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    const list = () => splitList(value());
    on(a, {
      value,
      list,
      int: (min) => {
        const v = Number(value());
        if (!Number.isInteger(v) || v < min) usage(`${a} must be an integer ≥ ${min}`);
        return v;
      },
      builds: () => {
        const w = list();
        for (const x of w) if (x !== 'simd' && x !== 'relaxed') usage(`${a} takes simd and/or relaxed, got ${x}`);
        return w as WasmBuild[];
      },
    });
  }
}
