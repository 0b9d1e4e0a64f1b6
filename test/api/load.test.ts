// Model loading as web apps do it (sdk/load.ts through createClassifier): a real HTTP server on localhost
// (node:http) serves the model in chunks, slowly, with lying or oversized Content-Lengths, as a 404 or as an HTML
// page; each case ends in the classifier or in its own typed error. Cache Storage does not exist in Node: a minimal
// in-memory CacheStorage stands in (the browser e2e tests use the real one).

import { createHash } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createClassifier, loadModelBytes, VitguardError, type LoadProgress } from '../../sdk/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODEL = new Uint8Array(readFileSync(join(ROOT, 'models', 'fmnist-deit-w4a8.safetensors')));
const PNG = () => new Uint8Array(readFileSync(join(ROOT, 'demos', 'samples', 'fmnist-Bag-18.png')));
const sri = (alg: 'sha256' | 'sha512', bytes: Uint8Array) => `${alg}-${createHash(alg).update(bytes).digest('base64')}`;

// --- the server -------------------------------------------------------------------------------------------------

let server: Server;
let base = '';
const hits = new Map<string, number>();
let wasmGate = () => {};
/** Requests whose response the client walked away from before it was complete. */
const cancelled = new Set<string>();

function send(res: ServerResponse, bytes: Uint8Array, chunks: number, then: (res: ServerResponse) => void = (r) => r.end()) {
  const size = Math.ceil(bytes.byteLength / chunks);
  let i = 0;
  const next = () => {
    if (res.destroyed) return;
    if (i * size >= bytes.byteLength) return then(res);
    res.write(bytes.subarray(i * size, (i + 1) * size));
    i++;
    setTimeout(next, 2);
  };
  next();
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    res.on('close', () => { if (!res.writableFinished) cancelled.add(path); });
    const model = { 'content-type': 'application/octet-stream', 'content-length': String(MODEL.byteLength) };
    switch (path) {
      case '/model.safetensors': case '/other.safetensors':
        res.writeHead(200, model);
        return send(res, MODEL, 16);
      case '/chunked.safetensors': // no Content-Length: the size is known only at the end
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return send(res, MODEL, 8);
      case '/stall.safetensors': // half the bytes, then nothing
        res.writeHead(200, model);
        return send(res, MODEL.subarray(0, MODEL.byteLength >> 1), 8, () => {});
      case '/lying.safetensors': // Content-Length says all of it; half comes, then the connection drops
        res.writeHead(200, model);
        return send(res, MODEL.subarray(0, MODEL.byteLength >> 1), 8, (r) => r.socket?.destroy());
      case '/huge.safetensors': // declares 3 GB; sends a little and waits
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(3e9) });
        return res.write(MODEL.subarray(0, 1024));
      case '/gated-wasm/vitguard.simd.wasm': // served only after the test's gate has run
        wasmGate();
        res.writeHead(200, { 'content-type': 'application/wasm' });
        return setTimeout(() => res.end(readFileSync(join(ROOT, 'build', 'vitguard.simd.wasm'))), 20);
      case '/page.html':
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<!doctype html><title>Not found</title><p>This SPA answers every path with a page.');
      default:
        res.writeHead(404, { 'content-type': 'text/plain' });
        return res.end('not found');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function failure(p: Promise<unknown>): Promise<VitguardError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(VitguardError);
    return e as VitguardError;
  }
  throw new Error('expected a VitguardError, the call succeeded');
}

// --- a minimal CacheStorage (what the loader uses of it: open, match, put, delete) -------------------------------

class MemoryCache {
  readonly entries = new Map<string, { body: Uint8Array; headers: [string, string][] }>();
  async match(key: string) {
    const e = this.entries.get(String(key));
    return e ? new Response(e.body.slice(), { headers: e.headers }) : undefined;
  }
  async put(key: string, res: Response) {
    this.entries.set(String(key), { body: new Uint8Array(await res.arrayBuffer()), headers: [...res.headers] });
  }
  async delete(key: string) { return this.entries.delete(String(key)); }
}
const stores = new Map<string, MemoryCache>();
const g = globalThis as { caches?: unknown };
afterEach(() => {
  delete g.caches;
  stores.clear();
});
function installCaches() {
  g.caches = { open: async (name: string) => stores.get(name) ?? stores.set(name, new MemoryCache()).get(name)! };
}

// --- the cases --------------------------------------------------------------------------------------------------

describe('createClassifier({ model: url })', () => {
  test('streams the download with progress events up to Content-Length, then classifies', async () => {
    const events: LoadProgress[] = [];
    const clf = await createClassifier({ model: `${base}/model.safetensors`, wasm: 'simd', onProgress: (p) => events.push({ ...p }) });
    try {
      expect(events.length).toBeGreaterThanOrEqual(8);
      expect(events[0]).toEqual({ loaded: 0, total: MODEL.byteLength });
      expect(events.at(-1)).toEqual({ loaded: MODEL.byteLength, total: MODEL.byteLength });
      for (let i = 1; i < events.length; i++) expect(events[i].loaded).toBeGreaterThan(events[i - 1].loaded);
      const r = await clf.classify(PNG());
      expect(r.top[0].label).toBe('Bag');
    } finally {
      await clf.dispose();
    }
  });

  test('without Content-Length the total is null and the bytes are the same', async () => {
    const events: LoadProgress[] = [];
    const bytes = await loadModelBytes(`${base}/chunked.safetensors`, { onProgress: (p) => events.push({ ...p }) });
    expect(Buffer.from(bytes).equals(Buffer.from(MODEL))).toBe(true);
    expect(events.every((e) => e.total === null)).toBe(true);
    expect(events.at(-1)!.loaded).toBe(MODEL.byteLength);
  });

  test('an AbortSignal cancels the download half-way: E_ABORTED, and the server sees the request dropped', async () => {
    const ctl = new AbortController();
    const started = Date.now();
    const e = await failure(createClassifier({
      model: `${base}/stall.safetensors`,
      signal: ctl.signal,
      onProgress: (p) => { if (p.loaded >= MODEL.byteLength >> 2) ctl.abort(new Error('user left the page')); },
    }));
    expect(e.code).toBe('E_ABORTED');
    expect(e.message).toMatch(/cancelled: user left the page/);
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect.poll(() => cancelled.has('/stall.safetensors')).toBe(true);
  });

  test('a signal aborted before the call fetches nothing; one aborted at the last byte is E_ABORTED too', async () => {
    const before = hits.get('/other.safetensors') ?? 0;
    expect((await failure(createClassifier({ model: `${base}/other.safetensors`, signal: AbortSignal.abort() }))).code).toBe('E_ABORTED');
    expect(hits.get('/other.safetensors') ?? 0).toBe(before);
    const ctl = new AbortController();
    const e = await failure(createClassifier({
      model: `${base}/other.safetensors`, wasm: 'simd', signal: ctl.signal,
      onProgress: (p) => { if (p.loaded === p.total) ctl.abort(); },
    }));
    expect(e.code).toBe('E_ABORTED');
    expect(hits.get('/other.safetensors')).toBe(before + 1);
  });

  test('a signal fired while the classifier is being built (the download done) cancels the create', async () => {
    // the wasm comes from this server, which holds it back until the signal has fired
    const ctl = new AbortController();
    wasmGate = () => ctl.abort(new Error('navigated away'));
    const e = await failure(createClassifier({ model: MODEL.slice(), wasm: 'simd', wasmBase: `${base}/gated-wasm/`, signal: ctl.signal }));
    expect(e.code).toBe('E_ABORTED');
    expect(e.message).toMatch(/navigated away/);
    expect(hits.get('/gated-wasm/vitguard.simd.wasm')).toBe(1);
  });

  test('HTTP 404 and an unreachable server are E_FETCH, with the URL and the status', async () => {
    const e = await failure(createClassifier({ model: `${base}/nope.safetensors` }));
    expect(e.code).toBe('E_FETCH');
    expect(e.message).toContain(`${base}/nope.safetensors`);
    expect(e.message).toMatch(/HTTP 404 Not Found/);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const n = await failure(createClassifier({ model: `http://127.0.0.1:${port}/m.safetensors` }));
    expect(n.code).toBe('E_FETCH');
    expect(n.message).toMatch(/network error|Access-Control-Allow-Origin/);
  });

  test('a body that stops short of its Content-Length is E_TRUNCATED, saying how far it got', async () => {
    const e = await failure(createClassifier({ model: `${base}/lying.safetensors` }));
    expect(e.code).toBe('E_TRUNCATED');
    expect(e.message).toMatch(new RegExp(`after \\d+ of ${MODEL.byteLength} bytes`));
  });

  test('a Content-Length over maxModelBytes is refused before the body is read; a stream over it is cut off', async () => {
    const events: LoadProgress[] = [];
    const e = await failure(createClassifier({ model: `${base}/huge.safetensors`, onProgress: (p) => events.push(p) }));
    expect(e.code).toBe('E_MODEL_TOO_LARGE');
    expect(e.message).toMatch(/3000000000 bytes, over maxModelBytes \(1073741824\)/);
    expect(events).toEqual([]);
    await expect.poll(() => cancelled.has('/huge.safetensors')).toBe(true);
    const c = await failure(loadModelBytes(`${base}/chunked.safetensors`, { maxModelBytes: 100_000 }));
    expect(c.code).toBe('E_MODEL_TOO_LARGE');
    expect((await failure(loadModelBytes(`${base}/model.safetensors`, { maxModelBytes: 0 }))).code).toBe('E_INPUT');
  });

  test('integrity: a matching sha256 or sha512 loads, a mismatch is E_INTEGRITY, bad syntax is E_INPUT', async () => {
    for (const integrity of [sri('sha256', MODEL), sri('sha512', MODEL), `${sri('sha256', new Uint8Array(1))} ${sri('sha512', MODEL)}`]) {
      expect((await loadModelBytes(`${base}/model.safetensors`, { integrity })).byteLength).toBe(MODEL.byteLength);
    }
    const wrong = sri('sha256', MODEL.subarray(1));
    const e = await failure(createClassifier({ model: `${base}/model.safetensors`, integrity: wrong }));
    expect(e.code).toBe('E_INTEGRITY');
    expect(e.message).toContain(wrong.slice('sha256-'.length));
    expect((await failure(loadModelBytes(MODEL, { integrity: wrong }))).code).toBe('E_INTEGRITY');
    expect((await failure(loadModelBytes(`${base}/model.safetensors`, { integrity: 'md5-abc' }))).code).toBe('E_INPUT');
  });

  test('bytes that are not a vitguard model fail with the format error, naming the URL', async () => {
    const e = await failure(createClassifier({ model: `${base}/page.html` }));
    expect(e.code).toMatch(/^E_FILE_(HEADER|TRUNCATED)$/);
    expect(e.message).toContain(`the model from ${base}/page.html is not a usable vitguard model`);
  });

  test('cache: the second load reads Cache Storage and fetches nothing; a named cache; junk is never stored', async () => {
    installCaches();
    const url = `${base}/other.safetensors`;
    const before = hits.get('/other.safetensors') ?? 0;
    const first = await createClassifier({ model: url, wasm: 'simd', cache: true });
    const want = await first.classify(PNG(), { logits: true });
    await first.dispose();
    expect(hits.get('/other.safetensors')).toBe(before + 1);
    expect([...stores.keys()]).toEqual(['vitguard-models']);
    expect(stores.get('vitguard-models')!.entries.get(url)!.body.byteLength).toBe(MODEL.byteLength);

    const events: LoadProgress[] = [];
    const second = await createClassifier({ model: url, wasm: 'simd', cache: true, integrity: sri('sha256', MODEL), onProgress: (p) => events.push({ ...p }) });
    const got = await second.classify(PNG(), { logits: true });
    await second.dispose();
    expect(hits.get('/other.safetensors')).toBe(before + 1); // no request this time
    expect(Array.from(got.logits!)).toEqual(Array.from(want.logits!));
    expect(events.at(-1)).toEqual({ loaded: MODEL.byteLength, total: MODEL.byteLength });

    // a cached copy that fails a (new) integrity hash is dropped and downloaded again
    stores.get('vitguard-models')!.entries.get(url)!.body[100] ^= 0xff;
    await loadModelBytes(url, { cache: true, integrity: sri('sha256', MODEL) });
    expect(hits.get('/other.safetensors')).toBe(before + 2);
    expect(Buffer.from(stores.get('vitguard-models')!.entries.get(url)!.body).equals(Buffer.from(MODEL))).toBe(true);

    await loadModelBytes(`${base}/model.safetensors`, { cache: 'app-models-v2' });
    expect(stores.get('app-models-v2')!.entries.has(`${base}/model.safetensors`)).toBe(true);
    await failure(loadModelBytes(`${base}/page.html`, { cache: 'app-models-v2' }));
    expect(stores.get('app-models-v2')!.entries.has(`${base}/page.html`)).toBe(false);
  });

  test('without Cache Storage (Node), cache: true just downloads', async () => {
    const before = hits.get('/model.safetensors') ?? 0;
    await loadModelBytes(`${base}/model.safetensors`, { cache: true });
    await loadModelBytes(`${base}/model.safetensors`, { cache: true });
    expect(hits.get('/model.safetensors')).toBe(before + 2);
  });
});
