// SECURITY.md's network guarantee, checked: the SDK asks the network for the model URL the caller gives and, where the
// caller points it at an http(s) folder for them, its own wasm kernels — nothing else, in Node's fetch and at the
// server, through create, classify (PNG and JPEG bytes), embed, info and dispose.

import { afterAll, beforeAll, expect, test } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClassifier } from '../../sdk/index.js';
import { randomPng, smallModel } from './fixtures.js';

const MODEL = smallModel(5);
const BUILD = new URL('../../build/', import.meta.url);
let server: Server;
let base = '';
const served: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    served.push(req.url ?? '');
    if (req.url === '/models/m.safetensors') { res.writeHead(200, { 'content-length': String(MODEL.length) }); res.end(Buffer.from(MODEL)); return; }
    const wasm = /^\/wasm\/(vitguard\.(simd|relaxed)\.wasm)$/.exec(req.url ?? '');
    if (wasm) { res.writeHead(200, { 'content-type': 'application/wasm' }); res.end(readFileSync(join(BUILD.pathname, wasm[1]))); return; }
    res.writeHead(404); res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

test('only the model URL and the wasm folder given are fetched, nothing during classification', async () => {
  const fetched: string[] = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    fetched.push(input instanceof Request ? input.url : String(input));
    return realFetch(input, init);
  }) as typeof fetch;
  try {
    const vg = await createClassifier({ model: `${base}/models/m.safetensors`, wasm: 'simd', wasmBase: `${base}/wasm/` });
    const afterCreate = fetched.length;
    const jpeg = new Uint8Array(readFileSync(join(BUILD.pathname, '..', 'test', 'fixtures', 'data', 'grey-8x8.jpg')));
    for (let i = 0; i < 5; i++) await vg.classify(randomPng(i));
    await vg.classify(jpeg);
    await vg.embed(randomPng(9));
    await vg.info();
    await vg.dispose();
    expect(fetched.slice(0, afterCreate).sort()).toEqual([`${base}/models/m.safetensors`, `${base}/wasm/vitguard.simd.wasm`]);
    expect(fetched.length).toBe(afterCreate); // classify, embed, info, dispose: no request at all
    expect(served.sort()).toEqual(['/models/m.safetensors', '/wasm/vitguard.simd.wasm']);
  } finally {
    globalThis.fetch = realFetch;
  }
});
