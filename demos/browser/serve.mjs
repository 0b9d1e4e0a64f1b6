// `npm run demo`: serves the browser demo (demos/browser/) with the bundle (dist/browser/), the demo models
// (dist/demo/) and the sample images (demos/samples/) on localhost. Static files only: the page works the same from
// any static host, and offline (nothing is fetched from elsewhere).
//   node demos/browser/serve.mjs [--port 8080] [--host 127.0.0.1] [--no-isolation]
// Every answer carries Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, so the
// page is cross-origin isolated: SharedArrayBuffer exists and `threads: N` runs N threads (everything here is
// same-origin, which require-corp allows). isolate: false (--no-isolation) leaves them out: the one-thread fallback.

import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Only these folders are served (onnxruntime-web's wasm build: the peer the bench page, bench.html, times). */
const ALLOWED = ['demos/', 'dist/', 'node_modules/onnxruntime-web/dist/'];
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.svg': 'image/svg+xml', '.safetensors': 'application/octet-stream',
};

/** Start the server; resolves to { url, close } once it listens. Port 0 picks a free port. */
export function serve({ port = 8080, host = '127.0.0.1', isolate = true } = {}) {
  const isolation = isolate ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      if (path === '/' || path === '/index.html') {
        res.writeHead(302, { location: '/demos/browser/' });
        return res.end();
      }
      let rel = normalize(path).replace(/^[/\\]+/, '');
      if (rel.endsWith(sep) || rel.endsWith('/') || rel === 'demos/browser') rel = join(rel, 'index.html');
      if (rel.includes('..') || !ALLOWED.some((a) => rel.split(sep).join('/').startsWith(a))) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        return res.end('not found');
      }
      const file = join(ROOT, rel);
      const s = await stat(file).catch(() => null);
      if (!s || !s.isFile()) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        return res.end('not found');
      }
      res.writeHead(200, { 'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream', 'content-length': s.size, 'cache-control': 'no-cache', ...isolation });
      res.end(req.method === 'HEAD' ? undefined : await readFile(file));
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e));
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address();
      resolve({ url: `http://${host}:${a.port}/demos/browser/`, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
  const { url } = await serve({ port: Number(arg('port', process.env.PORT ?? 8080)), host: arg('host', '127.0.0.1'), isolate: !process.argv.includes('--no-isolation') });
  console.log(`vitguard demo: ${url}  (Ctrl-C to stop)`);
}
