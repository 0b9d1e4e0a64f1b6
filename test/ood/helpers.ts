// Shared by the OOD tests: the project's seeded PRNG and the error code a call throws.

import { VitguardError } from '../../sdk/errors.js';

export { mulberry32 as rng } from '../../sdk/data/random.js';

/** The VitguardError code `f` throws, a description when it throws something else, undefined when it returns. */
export function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof VitguardError ? e.code : `not a VitguardError: ${String(e)}`;
  }
  return undefined;
}
