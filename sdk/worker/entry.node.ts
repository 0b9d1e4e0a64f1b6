// Node worker_threads entry: serves one Classifier to the thread that started this worker, through comlink's
// node-adapter over `parentPort`.

import { parentPort } from 'node:worker_threads';
import { expose } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { createService } from './service.js';

if (!parentPort) throw new Error('vitguard: entry.node.js must run inside a worker_threads Worker');
expose(createService((code) => process.exit(code)), nodeEndpoint(parentPort as unknown as Parameters<typeof nodeEndpoint>[0]));
