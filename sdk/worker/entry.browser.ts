// Web Worker entry (module worker): serves one Classifier to the page through comlink over the worker's global scope.

import { expose } from 'comlink';
import { createService } from './service.js';

// A Web Worker cannot exit with a code: an uncaught error is what the page sees (spawn.ts then replaces the worker).
expose(createService((code) => setTimeout(() => { throw new Error(`worker exit requested (code ${code})`); })));
