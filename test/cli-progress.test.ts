// The progress line of eval, sweep, fit-ood and accuracy: its text, its throttling, and that it appears only on a
// terminal and never under --json.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatDuration, formatProgress, ProgressLine, progressWanted, type ProgressStream } from '../sdk/cli/progress.js';
import { main } from '../sdk/cli/main.js';
import { writeSafetensors } from '../sdk/format/safetensors.js';
import { tinyModel } from './study/helpers.js';

function fakeStream(isTTY: boolean, columns = 200): ProgressStream & { out: string } {
  const s = { isTTY, columns, out: '', write(x: string) { s.out += x; return true; } };
  return s;
}

describe('progress line', () => {
  it('formats images done, share, rate and time left', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(65.4)).toBe('1:05');
    expect(formatDuration(3723)).toBe('1:02:03');
    expect(formatDuration(NaN)).toBe('—');
    expect(formatProgress('eval vit w4a4', 12400, 37800, 30)).toBe('eval vit w4a4  12 400/37 800 images (32 %) · 413 images/s · 1:01 left');
    expect(formatProgress('fit-ood', 5, 100, 2)).toBe('fit-ood  5/100 images (5 %) · 2.5 images/s · 0:38 left');
    expect(formatProgress('x', 0, 100, 0)).toBe('x  0/100 images (0 %) · — images/s · — left');
    expect(formatProgress('x', 100, undefined, 4)).toBe('x  100 images · 25 images/s');
  });

  it('draws only on a terminal and not under --json', () => {
    expect(progressWanted({ isTTY: true, write: () => 0 }, false)).toBe(true);
    expect(progressWanted({ isTTY: true, write: () => 0 }, true)).toBe(false);
    expect(progressWanted({ isTTY: false, write: () => 0 }, false)).toBe(false);
    expect(progressWanted({ write: () => 0 }, false)).toBe(false);
    const pipe = fakeStream(false);
    const p = new ProgressLine(pipe, progressWanted(pipe, false));
    p.update(10, 100, 'eval');
    p.end();
    expect(pipe.out).toBe('');
    p.log('a log line'); // log lines still reach a pipe, plainly
    expect(pipe.out).toBe('a log line\n');
  });

  it('on a terminal: redraws in place at most every 100 ms, clears for log lines and at the end, fits the width', () => {
    let t = 0;
    const tty = fakeStream(true, 40);
    const p = new ProgressLine(tty, true, () => t);
    t = 1000;
    p.update(10, 100, 'eval');
    expect(tty.out).toBe('\r' + formatProgress('eval', 10, 100, 1).slice(0, 38) + '…\x1b[K');
    tty.out = '';
    t = 1050;
    p.update(20, 100, 'eval'); // within 100 ms: not redrawn
    expect(tty.out).toBe('');
    t = 1200;
    p.update(30, 100, 'eval');
    expect(tty.out.startsWith('\reval  30/100')).toBe(true);
    tty.out = '';
    p.log('done with a');
    expect(tty.out.startsWith('\r\x1b[Kdone with a\n\reval  30/100')).toBe(true);
    tty.out = '';
    p.end();
    expect(tty.out).toBe('\r\x1b[K');
  });

  it('fit-ood draws it on a terminal stderr, and not with --json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitguard-progress-'));
    const model = join(dir, 'tiny.safetensors');
    const m = tinyModel(1);
    writeFileSync(model, writeSafetensors(m.tensors, m.metadata));
    const writes: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { writes.push(String(s)); return true; });
    vi.spyOn(console, 'log').mockImplementation(() => {});
    const wasTTY = process.stderr.isTTY;
    Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true });
    try {
      const args = ['fit-ood', model, '--id', 'fashion-mnist:train:40', '--method', 'msp', '--holdout', '10', '-o', join(dir, 'o.safetensors')];
      expect(await main(args)).toBe(0);
      expect(writes.some((w) => /^\rfit-ood msp {2}\d+\/40 images \(\d+ %\) · .* images\/s · .* left\x1b\[K$/.test(w))).toBe(true);
      expect(writes.at(-1)).toBe('\r\x1b[K'); // cleared before the result
      writes.length = 0;
      expect(await main([...args, '--json'])).toBe(0);
      expect(writes.filter((w) => w.includes('\r'))).toEqual([]);
    } finally {
      Object.defineProperty(process.stderr, 'isTTY', { value: wasTTY, configurable: true });
    }
  }, 30_000);
});

afterEach(() => vi.restoreAllMocks());
