// A fuzz worker process (started by run.ts with child_process.fork): runs the cases it is sent, one at a time, and
// reports each with its time and its memory. Memory per case: the kernel's peak resident set (VmHWM) is reset before
// the case (echo 5 > /proc/self/clear_refs) and read after it, so `peakKb − startKb` is what this case needed at its
// worst, decoded buffers, wasm memory and garbage included. The parent watches the clock and this process's size.

import { readFileSync, writeFileSync } from 'node:fs';
import { generateCase, runCase } from './cases.js';
import type { FuzzKind } from './rng.js';

export interface RunChunk { type: 'run'; kind: FuzzKind; seed: number; from: number; to: number }
export interface CaseReport {
  type: 'done';
  index: number;
  status: 'ok' | 'error' | 'fail';
  code?: string;
  reason?: string;
  detail?: string;
  ms: number;
  startKb: number;
  peakKb: number;
}
export interface ChunkDone { type: 'chunk'; from: number; to: number; heapKb: number; arrayBuffersKb: number; rssKb: number }

function status(): { rssKb: number; hwmKb: number } {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN);
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

function resetPeak(): void {
  try { writeFileSync('/proc/self/clear_refs', '5'); } catch { /* not Linux: the peak is then the process's own */ }
}

const send = (m: CaseReport | ChunkDone | { type: 'ready' }) => new Promise<void>((resolve) => process.send!(m, () => resolve()));

process.on('message', async (m: RunChunk | { type: 'exit' }) => {
  if (m.type === 'exit') process.exit(0);
  for (let i = m.from; i < m.to; i++) {
    let c: ReturnType<typeof generateCase> | null = null;
    let generationError = '';
    try {
      c = generateCase(m.kind, m.seed, i);
    } catch (e) {
      generationError = (e as Error).stack ?? String(e);
    }
    resetPeak();
    const before = status();
    const t0 = performance.now();
    const out = c ? await runCase(m.kind, c.bytes, i) : { status: 'fail' as const, reason: `the fuzzer could not generate this case: ${generationError}` };
    const ms = performance.now() - t0;
    const after = status();
    await send({
      type: 'done', index: i, status: out.status, ms, startKb: before.rssKb, peakKb: Math.max(after.hwmKb, after.rssKb),
      ...(out.status === 'error' ? { code: out.code } : out.status === 'fail' ? { reason: out.reason } : { detail: out.detail }),
    });
  }
  (globalThis as { gc?: () => void }).gc?.();
  const mu = process.memoryUsage();
  await send({ type: 'chunk', from: m.from, to: m.to, heapKb: mu.heapUsed / 1024, arrayBuffersKb: mu.arrayBuffers / 1024, rssKb: mu.rss / 1024 });
});

void send({ type: 'ready' });
