// A minimal Chrome DevTools Protocol client over a WebSocket (RFC 6455, text frames only), enough to ask a workerd
// isolate for its heap through miniflare's `inspectorPort` (Runtime.getHeapUsage). Node 20 has no WebSocket global and
// the project has no WebSocket dependency; this is ~80 lines of node:http instead of one.

import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';

export interface Cdp {
  send<T = Record<string, unknown>>(method: string, params?: Record<string, unknown>): Promise<T>;
  close(): void;
}

/** The isolate's heap as V8 counts it (bytes): the JS heap, and the ArrayBuffer / wasm backing stores outside it. */
export interface HeapUsage { usedSize: number; totalSize: number; backingStorageSize?: number; embedderHeapUsedSize?: number }

/** Connect to the DevTools target whose WebSocket URL matches `match` on an inspector at 127.0.0.1:port. */
export async function connectCdp(port: number, match: RegExp): Promise<Cdp> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl: string }[];
  const target = targets.find((t) => match.test(t.webSocketDebuggerUrl));
  if (!target) throw new Error(`no inspector target matching ${match} among ${targets.map((t) => t.webSocketDebuggerUrl).join(', ')}`);
  const url = new URL(target.webSocketDebuggerUrl);
  const socket = await new Promise<Socket>((resolve, reject) => {
    const req = request({
      host: url.hostname, port: url.port, path: url.pathname,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64') },
    });
    req.on('upgrade', (_res, s: Socket) => resolve(s));
    req.on('response', (res) => reject(new Error(`inspector answered HTTP ${res.statusCode} instead of upgrading`)));
    req.on('error', reject);
    req.end();
  });

  let id = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const opcode = buf[0] & 0x0f;
      let len = buf[1] & 0x7f, off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      if (buf.length < off + len) return;
      const payload = buf.subarray(off, off + len);
      buf = buf.subarray(off + len);
      if (opcode !== 1) continue; // server frames are unmasked; only text frames carry CDP messages
      const msg = JSON.parse(payload.toString('utf8')) as { id?: number; result?: unknown; error?: { message: string } };
      const p = msg.id !== undefined ? pending.get(msg.id) : undefined;
      if (!p) continue;
      pending.delete(msg.id!);
      if (msg.error) p.reject(new Error(msg.error.message)); else p.resolve(msg.result);
    }
  });

  const sendFrame = (text: string) => {
    const data = Buffer.from(text, 'utf8');
    const mask = randomBytes(4);
    const head = data.length < 126 ? Buffer.from([0x81, 0x80 | data.length])
      : Buffer.concat([Buffer.from([0x81, 0x80 | 126]), Buffer.from([data.length >> 8, data.length & 0xff])]);
    for (let i = 0; i < data.length; i++) data[i] ^= mask[i & 3];
    socket.write(Buffer.concat([head, mask, data]));
  };

  return {
    send<T>(method: string, params: Record<string, unknown> = {}) {
      const i = ++id;
      return new Promise<T>((resolve, reject) => {
        pending.set(i, { resolve: resolve as (v: unknown) => void, reject });
        sendFrame(JSON.stringify({ id: i, method, params }));
      });
    },
    close() { socket.destroy(); },
  };
}
