// Types for comlink's Node adapter (comlink ships them as node-adapter.d.ts, which NodeNext does not pair with .mjs).
declare module 'comlink/dist/esm/node-adapter.mjs' {
  import type { Endpoint } from 'comlink';
  export interface NodeEndpoint {
    postMessage(message: unknown, transfer?: unknown[]): void;
    on(type: string, listener: (...args: unknown[]) => void, options?: object): void;
    off(type: string, listener: (...args: unknown[]) => void, options?: object): void;
    start?: () => void;
  }
  export default function nodeEndpoint(nep: NodeEndpoint): Endpoint;
}
