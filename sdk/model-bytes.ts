// The model file's bytes after loading, kept only while nothing else would give them back. Once the weights are laid
// out in wasm the bytes are needed again only to rebuild after a wasm trap (in-thread) or to start a replacement worker
// (worker mode), so holding them doubles the model's memory for the classifier's whole life. A Blob is read again
// (it is immutable, and the options reference it anyway); a path or URL is loaded again and checked against the bytes
// loaded first — the caller's integrity (loadModelBytes checks it), or a SHA-256 fingerprint taken here in the
// background, the bytes let go once it is known — so a rebuild gets the same model or fails with E_INTEGRITY. Bytes the
// caller passed are kept: nothing else could give them back, and the caller's options reference them anyway.

import { VitguardError } from './errors.js';
import { loadModelBytes, type LoadOptions, type ModelSource } from './load.js';

/**
 * SHA-256 of every MiB of the bytes, then SHA-256 of those digests (hex). In pieces because crypto.subtle.digest
 * copies its input (measured: +84 MB peak for an 84 MB model whole, +9 MB in 4 MiB pieces).
 */
export async function modelFingerprint(bytes: Uint8Array, subtle: SubtleCrypto): Promise<string> {
  const CHUNK = 2 ** 20;
  const parts = new Uint8Array(32 * Math.max(1, Math.ceil(bytes.byteLength / CHUNK)));
  for (let i = 0, o = 0; i < bytes.byteLength; i += CHUNK, o += 32) {
    parts.set(new Uint8Array(await subtle.digest('SHA-256', bytes.subarray(i, i + CHUNK) as Uint8Array<ArrayBuffer>)), o);
  }
  return Array.from(new Uint8Array(await subtle.digest('SHA-256', parts)), (b) => b.toString(16).padStart(2, '0')).join('');
}

export class ModelBytes {
  /** The bytes while this object is the only way back to them. */
  private bytes: Uint8Array | null;
  /** Without the caller's integrity: the fingerprint of the bytes first loaded. */
  private fingerprint: string | null = null;

  constructor(bytes: Uint8Array, private readonly source: ModelSource, private readonly opts: LoadOptions) {
    this.bytes = bytes;
    if (typeof Blob !== 'undefined' && source instanceof Blob) this.bytes = null;
    else if (typeof source === 'string' || source instanceof URL) this.forgetOnceFingerprinted(bytes);
  }

  /** Whether the bytes are still held here (for tests and diagnostics). */
  get held(): boolean {
    return this.bytes !== null;
  }

  private forgetOnceFingerprinted(bytes: Uint8Array): void {
    if (this.opts.integrity !== undefined) { this.bytes = null; return; } // loadModelBytes checks a second load against it
    const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
    if (!subtle) return; // nothing to check a second load against: keep them
    modelFingerprint(bytes, subtle).then((fp) => {
      this.fingerprint = fp;
      this.bytes = null;
    }, () => { /* keep them */ });
  }

  /** The model's bytes: the ones kept, or the source loaded again and checked (E_INTEGRITY when it changed). */
  async get(): Promise<Uint8Array> {
    if (this.bytes) return this.bytes;
    const bytes = await loadModelBytes(this.source, { ...this.opts, signal: undefined, onProgress: undefined });
    if (this.fingerprint !== null && await modelFingerprint(bytes, (globalThis as { crypto: Crypto }).crypto.subtle) !== this.fingerprint) {
      throw new VitguardError('E_INTEGRITY', `the model at ${String(this.source)} changed since this classifier loaded it, so it cannot be loaded again for a rebuild or a new worker: create a new classifier`);
    }
    return bytes;
  }
}
