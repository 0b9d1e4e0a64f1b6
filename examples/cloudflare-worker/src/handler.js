// The HTTP side of the Worker, shared by both ways of shipping the model (bundled.js, r2.js):
//   GET  /          a short usage text
//   POST /classify  body: PNG or JPEG bytes → 200 { top, ood, timings, model }
// A bad request gets a 4xx JSON { error: { code, message } }: not an image or a corrupt one → 415, an empty body → 400,
// a body over MAX_BODY_BYTES or an image over the pixel / decode-memory limits → 413, another method → 405, another
// path → 404. The workerd build of vitguard defaults to EDGE_IMAGE_LIMITS (50 MP declared, 24 MiB to decode) and
// decodes large photos reduced to what the model needs, so a phone photo or a PNG bomb stays within 128 MB.

import { createClassifier, isVitguardError, planDecode } from 'vitguard';

/** Largest body read (bytes): bounds memory against the 128 MB isolate limit. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** Thrown by a model loader when the model is not where the Worker was told to find it: a 503, not the client's fault. */
export class ModelMissing extends Error {}

const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8' } });
const fail = (status, code, message) => json(status, { error: { code, message } });
/** SDK error codes that mean "your image is the problem" → HTTP status. */
const INPUT_ERRORS = { E_IMAGE: 415, E_IMAGE_TOO_LARGE: 413, E_INPUT: 400, E_NONFINITE: 400 };

/** Read a request body, giving up (null) once it passes `limit` bytes: a chunked upload has no length to trust. */
async function readCapped(body, limit) {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.byteLength; }
  return out;
}

/**
 * A Worker around `loadModel(env)` (→ the model's bytes). The classifier is created on the first request — global
 * scope must finish within 1 s — and then reused by every request this isolate serves; a failed start is retried.
 */
export function classifierWorker(loadModel) {
  let classifier = null;
  const getClassifier = (env) => {
    if (!classifier) {
      classifier = (async () => createClassifier({ model: await loadModel(env), wasm: env.WASM ?? 'auto' }))();
      classifier.catch(() => { classifier = null; });
    }
    return classifier;
  };

  async function classify(request, env) {
    const declared = Number(request.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) return fail(413, 'E_TOO_LARGE', `body of ${declared} bytes is over the ${MAX_BODY_BYTES}-byte limit`);
    const bytes = await readCapped(request.body, MAX_BODY_BYTES);
    if (bytes === null) return fail(413, 'E_TOO_LARGE', `body is over the ${MAX_BODY_BYTES}-byte limit`);
    if (bytes.byteLength === 0) return fail(400, 'E_EMPTY', 'empty body: POST the PNG or JPEG bytes of an image');
    const t0 = Date.now();
    // read the header before touching the model: a body that is not an image, or one over the limits even at the
    // largest reduction, is the client's error whatever the model's state (nothing is decoded or allocated yet)
    try {
      planDecode(bytes, { minShortSide: 1 });
    } catch (e) {
      if (isVitguardError(e) && e.code in INPUT_ERRORS) return fail(INPUT_ERRORS[e.code], e.code, e.message);
      throw e;
    }
    const vg = await getClassifier(env);
    try {
      const r = await vg.classify(bytes, { topK: 5 }); // decoded reduced to the model's input size
      const info = await vg.info();
      return json(200, {
        top: r.top, ood: r.ood, timings: { ...r.timings, totalMs: Date.now() - t0 },
        model: { arch: info.arch, scheme: info.scheme, wasm: info.wasm, memoryBytes: info.memoryBytes },
      });
    } catch (e) {
      if (isVitguardError(e) && e.code in INPUT_ERRORS) return fail(INPUT_ERRORS[e.code], e.code, e.message);
      throw e;
    }
  }

  return {
    async fetch(request, env) {
      const { pathname } = new URL(request.url);
      try {
        if (pathname === '/') {
          if (request.method !== 'GET' && request.method !== 'HEAD') return fail(405, 'E_METHOD', 'use GET /');
          return new Response('POST /classify with a PNG or JPEG body → { top, ood: { score, threshold, isOOD }, timings, model }\n', { headers: { 'content-type': 'text/plain; charset=utf-8' } });
        }
        if (pathname === '/classify') {
          if (request.method !== 'POST') return fail(405, 'E_METHOD', 'use POST /classify with an image body');
          return await classify(request, env);
        }
        return fail(404, 'E_NOT_FOUND', `no route ${pathname}: try GET / or POST /classify`);
      } catch (e) {
        // our failure, not the client's: say which without leaking a stack
        if (e instanceof ModelMissing) return fail(503, 'E_MODEL_MISSING', e.message);
        return fail(500, isVitguardError(e) ? e.code : 'E_INTERNAL', isVitguardError(e) ? e.message : 'internal error');
      }
    },
  };
}
