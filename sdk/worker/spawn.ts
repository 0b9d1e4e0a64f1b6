// Starting one worker: a module Web Worker in browsers, a worker_threads Worker in Node. Both come back as the same
// handle: a comlink endpoint, a death notice (exit, uncaught error, failed start) and terminate().

import type { Endpoint } from 'comlink';
import { VitguardError } from '../errors.js';

export interface WorkerHandle {
  endpoint: Endpoint;
  /** Called once when the worker dies on its own (not after terminate()), with a reason for the error message. */
  onDeath(cb: (reason: string) => void): void;
  terminate(): Promise<void>;
  /** Node: keep the process alive while calls are in flight (ref) and let it exit when idle (unref). */
  ref(): void;
  unref(): void;
}

export const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string' && typeof (globalThis as { window?: unknown }).window === 'undefined';

/** Where the worker entry lives. The literal URLs let bundlers find it (rollup.config.mjs rewrites the browser one). */
export function defaultWorkerUrl(): URL {
  return isNode ? new URL('./entry.node.js', import.meta.url) : new URL('./entry.browser.js', import.meta.url);
}

export async function spawnWorker(url: URL | string = defaultWorkerUrl()): Promise<WorkerHandle> {
  return isNode ? spawnNode(url) : spawnBrowser(url);
}

async function spawnNode(url: URL | string): Promise<WorkerHandle> {
  const { Worker } = await import('node:worker_threads');
  const { default: nodeEndpoint } = await import('comlink/dist/esm/node-adapter.mjs');
  let worker: import('node:worker_threads').Worker;
  try {
    worker = new Worker(typeof url === 'string' ? new URL(url) : url);
  } catch (e) {
    throw new VitguardError('E_WORKER', `could not start a worker from ${String(url)}: ${(e as Error).message}`, { cause: e });
  }
  const death = deathNotice();
  worker.on('error', (e: Error) => death.die(`the worker threw ${e.name}: ${e.message}`));
  worker.on('exit', (code: number) => death.die(`the worker exited with code ${code}`));
  worker.on('messageerror', (e: Error) => death.die(`a message could not be deserialised: ${e.message}`));
  return {
    endpoint: nodeEndpoint(worker as unknown as Parameters<typeof nodeEndpoint>[0]),
    onDeath: death.onDeath,
    async terminate() {
      death.silence();
      await worker.terminate();
    },
    ref: () => worker.ref(),
    unref: () => worker.unref(),
  };
}

async function spawnBrowser(url: URL | string): Promise<WorkerHandle> {
  if (typeof Worker === 'undefined') {
    throw new VitguardError('E_WORKER', 'this runtime has no Web Worker API (Cloudflare Workers, for one): create the classifier with worker: false');
  }
  let worker: Worker;
  try {
    worker = new Worker(url, { type: 'module', name: 'vitguard' });
  } catch (e) {
    throw new VitguardError('E_WORKER', `could not start a worker from ${String(url)}: ${(e as Error).message}`, { cause: e });
  }
  const death = deathNotice(() => worker.terminate());
  // a module worker that fails to load, and an uncaught exception inside one, both surface as 'error'
  worker.addEventListener('error', (e: ErrorEvent) => { e.preventDefault?.(); death.die(`the worker failed: ${e.message || 'script error (could not load or crashed)'}`); });
  worker.addEventListener('messageerror', () => death.die('a message could not be deserialised'));
  return {
    endpoint: worker,
    onDeath: death.onDeath,
    async terminate() {
      death.silence();
      worker.terminate();
    },
    ref: () => {},
    unref: () => {},
  };
}

/**
 * The death notice both handles share: the first die() after start (and before terminate(), which silences it) runs
 * `onDie`, then reaches the onDeath callback, now or, if none is set yet, when one is.
 */
function deathNotice(onDie?: () => void): { die(reason: string): void; onDeath(cb: (reason: string) => void): void; silence(): void } {
  let done = false;
  let notify: ((reason: string) => void) | null = null;
  let pendingReason: string | null = null;
  return {
    die(reason) {
      if (done) return;
      done = true;
      onDie?.();
      if (notify) notify(reason); else pendingReason = reason;
    },
    onDeath(cb) {
      notify = cb;
      if (pendingReason !== null) cb(pendingReason);
    },
    silence() {
      done = true;
    },
  };
}
