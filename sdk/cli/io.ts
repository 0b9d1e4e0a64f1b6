import { renameSync, rmSync, writeFileSync } from 'node:fs';

/** Write via a temporary file and rename, so a failure never leaves a partial output behind. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
