// Getting a model's bytes, as web apps need it: a streamed download with progress, cancellation through an
// AbortSignal, an opt-in copy in Cache Storage (a second page load fetches nothing), a Subresource Integrity check,
// and a size bound checked before reading. Paths (Node) and Blobs get the same size, integrity and progress rules.
// Every failure is a VitguardError with its own code: E_FETCH (HTTP status, network, CORS), E_TRUNCATED (fewer
// bytes than Content-Length), E_INTEGRITY, E_ABORTED, E_MODEL_TOO_LARGE (over maxModelBytes), and the model
// format's own codes (E_FILE_HEADER, E_FILE_TRUNCATED, E_METADATA, ...) for bytes that are not a vitguard model,
// with the URL or path in the message.

import { VitguardError, isVitguardError } from './errors.js';
import { readModel } from './format/model.js';
import { isNode } from './worker/spawn.js';

/** Where a model comes from: a URL (http(s):, file:, data:, or relative to the page), a file path (Node), or the bytes. */
export type ModelSource = string | URL | ArrayBuffer | Uint8Array | Blob;

/** Bytes of the model read so far, and the whole size where known (Content-Length; null when the server sends none). */
export interface LoadProgress {
  loaded: number;
  total: number | null;
}

export interface LoadOptions {
  /** Called as the bytes arrive (a download: at the response, then per chunk; a file or Blob: once). */
  onProgress?: (progress: LoadProgress) => void;
  /** Cancels the download: the load rejects with E_ABORTED. */
  signal?: AbortSignal;
  /**
   * http(s) URLs: keep the model in Cache Storage where the runtime has one (`caches`: browsers, Cloudflare Workers);
   * true uses the cache named 'vitguard-models', a string names it. A later load of the same URL reads it from there
   * and fetches nothing. Only bytes that pass the integrity check and parse as a vitguard model are stored.
   */
  cache?: boolean | string;
  /** Subresource Integrity of the bytes ('sha256-<base64>'; sha384 and sha512 too, several space-separated as in SRI). */
  integrity?: string;
  /** Largest model accepted, in bytes: a Content-Length or file size over it is refused before reading. Default 1 GiB. */
  maxModelBytes?: number;
}

export const DEFAULT_MAX_MODEL_BYTES = 2 ** 30;
export const DEFAULT_MODEL_CACHE = 'vitguard-models';

// --- the entry point --------------------------------------------------------------------------------------------

/** The model's bytes from any source; URLs and paths are also checked to be a vitguard model (see the header). */
export async function loadModelBytes(src: ModelSource, opts: LoadOptions = {}): Promise<Uint8Array> {
  const max = opts.maxModelBytes ?? DEFAULT_MAX_MODEL_BYTES;
  if (!(max > 0)) throw new VitguardError('E_INPUT', `maxModelBytes must be a positive number of bytes, got ${String(opts.maxModelBytes)}`);
  const integrity = opts.integrity === undefined ? null : parseIntegrity(opts.integrity);
  throwIfAborted(opts.signal);
  if (src instanceof Uint8Array || src instanceof ArrayBuffer) {
    const bytes = src instanceof Uint8Array ? src : new Uint8Array(src);
    if (integrity) await checkIntegrity(bytes, integrity, 'the model bytes');
    return bytes;
  }
  if (typeof Blob !== 'undefined' && src instanceof Blob) {
    checkSize(src.size, max, 'the model Blob');
    const bytes = new Uint8Array(await src.arrayBuffer());
    throwIfAborted(opts.signal);
    opts.onProgress?.({ loaded: bytes.byteLength, total: bytes.byteLength });
    if (integrity) await checkIntegrity(bytes, integrity, 'the model Blob');
    return asModel(bytes, 'the Blob');
  }
  if (typeof src !== 'string' && !(src instanceof URL)) {
    throw new VitguardError('E_INPUT', `a model is a URL, a path (Node), an ArrayBuffer, a Uint8Array or a Blob, got ${src === null ? 'null' : typeof src}`);
  }
  const url = toUrl(src);
  if (url.protocol === 'file:' && isNode) {
    const bytes = await readModelFile(url, max, opts);
    if (integrity) await checkIntegrity(bytes, integrity, url.pathname);
    return asModel(bytes, decodeURIComponent(url.pathname));
  }
  return loadUrl(url, max, integrity, opts);
}

/** A string or URL → URL: absolute URLs as they are; Node: other strings are paths; browsers: relative to the page. */
export function toUrl(src: string | URL): URL {
  if (src instanceof URL) return src;
  if (/^[a-z][a-z0-9+.-]*:/i.test(src) && !/^[a-z]:[\\/]/i.test(src)) return new URL(src);
  if (isNode) {
    // a file path, relative to the working directory
    const cwd = process.cwd().replace(/\\/g, '/');
    const abs = src.startsWith('/') ? src : `${cwd}/${src}`;
    return new URL(`file://${abs.split('/').map(encodeURIComponent).join('/')}`);
  }
  const base = (globalThis as { location?: { href: string } }).location?.href;
  if (!base) throw new VitguardError('E_INPUT', `relative model URL "${src}" with no page to resolve it against: pass an absolute URL or the bytes`);
  return new URL(src, base);
}

// --- URLs -------------------------------------------------------------------------------------------------------

async function loadUrl(url: URL, max: number, integrity: Integrity | null, opts: LoadOptions): Promise<Uint8Array> {
  const where = url.protocol === 'data:' ? 'a data: URL' : url.href;
  const store = opts.cache && /^https?:$/.test(url.protocol) ? await openCache(opts.cache === true ? DEFAULT_MODEL_CACHE : opts.cache) : null;
  throwIfAborted(opts.signal);
  if (store) {
    const hit = await store.match(url.href).catch(() => undefined);
    if (hit) {
      try {
        const bytes = await readBody(hit, max, where, opts);
        if (integrity) await checkIntegrity(bytes, integrity, where);
        return asModel(bytes, where);
      } catch (e) {
        if (isVitguardError(e) && e.code === 'E_ABORTED') throw e;
        // a cached copy that no longer passes (a new integrity hash, a damaged entry): drop it and download again
        await store.delete(url.href).catch(() => false);
      }
    }
  }
  let res: Response;
  try {
    res = await fetch(url, { signal: opts.signal });
  } catch (e) {
    throw aborted(opts.signal) ?? new VitguardError('E_FETCH',
      `cannot fetch the model from ${where}: ${(e as Error).message} (a network error, or a cross-origin server that does not send Access-Control-Allow-Origin for this page)`, { cause: e });
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new VitguardError('E_FETCH', `cannot fetch the model from ${where}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  }
  const bytes = await readBody(res, max, where, opts);
  if (integrity) await checkIntegrity(bytes, integrity, where);
  const model = asModel(bytes, where);
  if (store) {
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) };
    // a full quota or a refused entry costs the next load a download, never this one
    await store.put(url.href, new Response(bytes as Uint8Array<ArrayBuffer>, { headers })).catch(() => {});
  }
  return model;
}

/**
 * A response body into one buffer, with progress: sized from Content-Length up front when it is known and within
 * bounds, refused when it is over maxModelBytes, and E_TRUNCATED when the body ends (or the connection drops) short
 * of it. A Content-Encoding'd body is counted as it decodes; its Content-Length then bounds nothing.
 */
async function readBody(res: Response, max: number, where: string, opts: LoadOptions): Promise<Uint8Array> {
  const header = res.headers.get('content-length');
  const encoded = !!res.headers.get('content-encoding') && res.headers.get('content-encoding') !== 'identity';
  const declared = header !== null && /^\d+$/.test(header.trim()) ? Number(header) : null;
  const total = encoded ? null : declared;
  if (total !== null && total > max) {
    await res.body?.cancel().catch(() => {}); // hang up: none of it will be read
    checkSize(total, max, `the model at ${where} (Content-Length)`);
  }
  opts.onProgress?.({ loaded: 0, total });
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    checkSize(bytes.byteLength, max, `the model at ${where}`);
    opts.onProgress?.({ loaded: bytes.byteLength, total });
    return bytes;
  }
  const reader = res.body.getReader();
  let buf = new Uint8Array(total ?? 1 << 20);
  let loaded = 0;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await readOrAbort(reader, opts.signal);
      } catch (e) {
        throw aborted(opts.signal) ?? (total !== null && loaded < total
          ? new VitguardError('E_TRUNCATED', `the download of ${where} broke off after ${loaded} of ${total} bytes: ${(e as Error).message}`, { cause: e })
          : new VitguardError('E_FETCH', `the download of ${where} failed after ${loaded} bytes: ${(e as Error).message}`, { cause: e }));
      }
      if (chunk.done) break;
      const c = chunk.value;
      if (loaded + c.byteLength > max) checkSize(loaded + c.byteLength, max, `the model at ${where}`);
      if (loaded + c.byteLength > buf.byteLength) {
        const grown = new Uint8Array(Math.min(max, Math.max(buf.byteLength * 2, loaded + c.byteLength)));
        grown.set(buf.subarray(0, loaded));
        buf = grown;
      }
      buf.set(c, loaded);
      loaded += c.byteLength;
      opts.onProgress?.({ loaded, total });
    }
  } catch (e) {
    void reader.cancel().catch(() => {}); // not awaited: a stream whose fetch was aborted may never settle it
    throw e;
  }
  if (total !== null && loaded < total) {
    throw new VitguardError('E_TRUNCATED', `the download of ${where} ended after ${loaded} of the ${total} bytes its Content-Length announced`);
  }
  return loaded === buf.byteLength ? buf : buf.slice(0, loaded);
}

interface ModelCache {
  match(key: string): Promise<Response | undefined>;
  put(key: string, res: Response): Promise<void>;
  delete(key: string): Promise<boolean>;
}

async function openCache(name: string): Promise<ModelCache | null> {
  const storage = (globalThis as { caches?: { open(name: string): Promise<ModelCache> } }).caches;
  if (!storage) return null; // no Cache Storage here (Node, an insecure page): load as if cache were off
  try {
    return await storage.open(name);
  } catch {
    return null; // e.g. storage disabled for this origin: same
  }
}

// --- files (Node) -----------------------------------------------------------------------------------------------

async function readModelFile(url: URL, max: number, opts: LoadOptions): Promise<Uint8Array> {
  const fs = await import('node:fs/promises');
  const path = decodeURIComponent(url.pathname);
  let bytes: Uint8Array;
  try {
    checkSize((await fs.stat(url)).size, max, `the model file ${path}`);
    bytes = new Uint8Array(await fs.readFile(url, { signal: opts.signal }));
  } catch (e) {
    if (isVitguardError(e)) throw e;
    throw aborted(opts.signal) ?? new VitguardError('E_INPUT', `cannot read the model file ${path}: ${(e as Error).message}`, { cause: e });
  }
  opts.onProgress?.({ loaded: bytes.byteLength, total: bytes.byteLength });
  return bytes;
}

// --- checks -----------------------------------------------------------------------------------------------------

function checkSize(bytes: number, max: number, what: string): void {
  if (bytes > max) {
    throw new VitguardError('E_MODEL_TOO_LARGE', `${what} is ${bytes} bytes, over maxModelBytes (${max}): raise maxModelBytes if this model is meant to load`);
  }
}

/** Bytes that are not a vitguard model fail here with the format's own code and the source in the message. */
function asModel(bytes: Uint8Array, where: string): Uint8Array {
  try {
    readModel(bytes);
  } catch (e) {
    if (isVitguardError(e)) throw new VitguardError(e.code, `the model from ${where} is not a usable vitguard model: ${e.message}`, { cause: e });
    throw e;
  }
  return bytes;
}

type Integrity = { algorithm: 'SHA-256' | 'SHA-384' | 'SHA-512'; digests: string[] };

/** SRI metadata → the strongest algorithm given and its expected digests (base64), as SRI's matching rules pick them. */
function parseIntegrity(value: string): Integrity {
  const names = { sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' } as const;
  const entries = String(value).trim().split(/\s+/).filter(Boolean).map((tok) => {
    const m = /^(sha256|sha384|sha512)-([A-Za-z0-9+/_-]+={0,2})(\?.*)?$/.exec(tok);
    if (!m) throw new VitguardError('E_INPUT', `integrity "${tok}" is not Subresource Integrity metadata: expected sha256-<base64> (or sha384-, sha512-)`);
    return { alg: names[m[1] as keyof typeof names], digest: m[2].replace(/-/g, '+').replace(/_/g, '/') };
  });
  if (entries.length === 0) throw new VitguardError('E_INPUT', 'integrity is empty: expected sha256-<base64>');
  const order = ['SHA-256', 'SHA-384', 'SHA-512'];
  const strongest = entries.reduce((a, e) => (order.indexOf(e.alg) > order.indexOf(a) ? e.alg : a), entries[0].alg);
  return { algorithm: strongest, digests: entries.filter((e) => e.alg === strongest).map((e) => e.digest) };
}

async function checkIntegrity(bytes: Uint8Array, want: Integrity, where: string): Promise<void> {
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (!subtle) {
    throw new VitguardError('E_INTEGRITY', `cannot check the integrity of ${where}: this runtime has no crypto.subtle (browsers offer it only in secure contexts: https or localhost)`);
  }
  const digest = new Uint8Array(await subtle.digest(want.algorithm, bytes as Uint8Array<ArrayBuffer>));
  let bin = '';
  for (const b of digest) bin += String.fromCharCode(b);
  const got = btoa(bin);
  const norm = (d: string) => d.replace(/=+$/, '');
  if (!want.digests.some((d) => norm(d) === norm(got))) {
    throw new VitguardError('E_INTEGRITY', `the model from ${where} does not match its integrity: ${want.algorithm} is ${got}, expected ${want.digests.join(' or ')}`);
  }
}

// --- cancellation -----------------------------------------------------------------------------------------------

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

function abortError(signal: AbortSignal): VitguardError {
  const r = signal.reason as { message?: unknown } | undefined;
  const why = r && typeof r.message === 'string' && r.message ? `: ${r.message}` : '';
  return new VitguardError('E_ABORTED', `loading the model was cancelled${why}`, { cause: signal.reason });
}

/**
 * reader.read(), or E_ABORTED as soon as the signal fires: undici (Node's fetch) can leave a read pending forever
 * when the request is aborted after the last byte arrived but before the stream closed.
 */
function readOrAbort(reader: ReadableStreamDefaultReader<Uint8Array>, signal: AbortSignal | undefined): Promise<ReadableStreamReadResult<Uint8Array>> {
  if (!signal) return reader.read();
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    reader.read().then(
      (r) => { signal.removeEventListener('abort', onAbort); resolve(r); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

/** The E_ABORTED error when `signal` fired (whatever error the cancelled operation threw), else null. */
function aborted(signal: AbortSignal | undefined): VitguardError | null {
  return signal?.aborted ? abortError(signal) : null;
}
