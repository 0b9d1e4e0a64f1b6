// vitguard in a Cloudflare Worker: the int4 (w4a8) Fashion-MNIST model and the relaxed-SIMD kernels ship inside the
// Worker; every request runs in this isolate (Workers have no threads).
//   GET  /          a short usage text
//   POST /classify  body: PNG or JPEG bytes → 200 { top, ood, timings, model }
// A bad request always gets a 4xx JSON { error: { code, message } }: not an image or a corrupt one → 415, an image
// over the limits below (E_IMAGE_TOO_LARGE) → 413, an empty body → 400, a body over MAX_BODY_BYTES → 413, another
// method → 405, another path → 404. Never a 500 for a bad body.
//
// Images within a budget: an isolate has 128 MB for everything. EDGE_IMAGE_LIMITS (50 megapixels declared, 24 MiB
// of decoding memory) are checked from the image header before any pixel is decoded, and a phone photo is decoded
// reduced to what the 28×28 model needs (a 12 MP JPEG at 1/8 scale, a few MB), never at full size.

import { createClassifier, EDGE_IMAGE_LIMITS, isVitguardError, planDecode } from '../../dist/cloudflare/index.js';
import modelBytes from '../../dist/cloudflare/model.safetensors';

/** Largest body we read (bytes). A 28×28 model needs far less; this bounds memory against the 128 MB isolate limit. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** Image limits for a 128 MB isolate: pixels the header may declare, bytes decoding may allocate. */
const IMAGE_LIMITS = EDGE_IMAGE_LIMITS;

const USAGE = `vitguard on Cloudflare Workers
POST /classify with a PNG or JPEG image as the request body (at most ${MAX_BODY_BYTES / 2 ** 20} MiB and
${IMAGE_LIMITS.maxPixels / 1e6} megapixels; larger photos are decoded reduced, EXIF orientation applied):
  curl --data-binary @shoe.png -H 'content-type: image/png' https://<worker>/classify
→ { "top": [{ "index", "label", "prob" }], "ood": { "method", "score", "threshold", "isOOD" }, "timings", "model" }
The model was trained on Fashion-MNIST (clothing, 28×28 grey); "ood.isOOD": true says the image is unlike anything it
was trained on, so its label should not be trusted.
`;

/** Created on the first request (global scope must stay cheap), then reused by every request this isolate serves. */
let classifier = null;

function getClassifier() {
  if (!classifier) {
    classifier = createClassifier({ model: new Uint8Array(modelBytes), wasm: 'auto', ...IMAGE_LIMITS });
    classifier.catch(() => { classifier = null; });
  }
  return classifier;
}

function json(status, body) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8' } });
}

const fail = (status, code, message) => json(status, { error: { code, message } });

/** Read a request body, giving up (null) once it passes `limit` bytes: chunked uploads carry no length to trust. */
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

/** SDK error codes that mean "your image is the problem" → HTTP status. */
const INPUT_ERRORS = { E_IMAGE: 415, E_IMAGE_TOO_LARGE: 413, E_INPUT: 400, E_NONFINITE: 400 };

async function classify(request) {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
    return fail(413, 'E_TOO_LARGE', `body of ${declared} bytes is over the ${MAX_BODY_BYTES}-byte limit`);
  }
  const bytes = await readCapped(request.body, MAX_BODY_BYTES);
  if (bytes === null) return fail(413, 'E_TOO_LARGE', `body is over the ${MAX_BODY_BYTES}-byte limit`);
  if (bytes.byteLength === 0) return fail(400, 'E_EMPTY', 'empty body: POST the PNG or JPEG bytes of an image');
  const t0 = Date.now();
  // read the header before touching the model: a body that is not an image, or one over the limits even at the
  // largest reduction, is the client's error whatever state the model is in (nothing is decoded or allocated yet)
  try {
    planDecode(bytes, { ...IMAGE_LIMITS, minShortSide: 1 });
  } catch (e) {
    if (isVitguardError(e) && e.code in INPUT_ERRORS) return fail(INPUT_ERRORS[e.code], e.code, e.message);
    throw e;
  }
  const vg = await getClassifier();
  try {
    // the classifier decodes the bytes reduced to what its model needs, within IMAGE_LIMITS
    const r = await vg.classify(bytes, { topK: 5 });
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

export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    try {
      if (pathname === '/') {
        if (request.method !== 'GET' && request.method !== 'HEAD') return fail(405, 'E_METHOD', 'use GET /');
        return new Response(USAGE, { headers: { 'content-type': 'text/plain; charset=utf-8' } });
      }
      if (pathname === '/classify') {
        if (request.method !== 'POST') return fail(405, 'E_METHOD', 'use POST /classify with an image body');
        return await classify(request);
      }
      return fail(404, 'E_NOT_FOUND', `no route ${pathname}: try GET / or POST /classify`);
    } catch (e) {
      // our own failure, not the client's: say so without leaking a stack
      return fail(500, isVitguardError(e) ? e.code : 'E_INTERNAL', isVitguardError(e) ? e.message : 'internal error');
    }
  },
};
