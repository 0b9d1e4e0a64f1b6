// ImageFolder reader and the PNG/JPEG decoder, on images written into temp dirs.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { afterAll, describe, expect, test } from 'vitest';
import { VitguardError } from '../../sdk/errors.js';
import { decodeImage, rgbaToChannels } from '../../sdk/image/decode.js';
import { loadSamples, openDataset } from '../../sdk/data/index.js';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/data');
const tmp = mkdtempSync(join(tmpdir(), 'vitguard-folder-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A w×h RGBA gradient: R = 10x, G = 10y, B = const, A = 255. */
function gradient(w: number, h: number, b: number): Uint8Array {
  const d = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) d.set([10 * x, 10 * y, b, 255], (y * w + x) * 4);
  return d;
}
const png = (w: number, h: number, data: Uint8Array | Uint16Array, channels: number, depth: 1 | 2 | 4 | 8 | 16 = 8, palette?: number[][]) =>
  encodePng({ width: w, height: h, data, channels, depth, palette });
const jpg = (w: number, h: number, rgba: Uint8Array, q = 100) => new Uint8Array(jpeg.encode({ width: w, height: h, data: rgba }, q).data);

function tree(name: string, files: Record<string, Uint8Array | string | null>): string {
  const root = join(tmp, name);
  mkdirSync(root, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    const p = join(root, rel);
    if (content === null) mkdirSync(p, { recursive: true });
    else {
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, content);
    }
  }
  return root;
}

describe('decodeImage', () => {
  test('PNG RGB / RGBA / grey / grey+alpha / 16-bit / 1-bit / palette', () => {
    const rgba = gradient(5, 3, 77);
    const rgb = rgbaToChannels(rgba, 3);
    let d = decodeImage(png(5, 3, rgb, 3));
    expect([d.format, d.width, d.height, d.channels]).toEqual(['png', 5, 3, 3]);
    expect(Array.from(d.data)).toEqual(Array.from(rgba));
    d = decodeImage(png(5, 3, rgba, 4));
    expect([d.channels, Array.from(d.data.subarray(4 * 7, 4 * 8))]).toEqual([4, [20, 10, 77, 255]]);
    d = decodeImage(png(2, 2, Uint8Array.of(0, 50, 100, 255), 1));
    expect([d.channels, Array.from(d.data)]).toEqual([1, [0, 0, 0, 255, 50, 50, 50, 255, 100, 100, 100, 255, 255, 255, 255, 255]]);
    d = decodeImage(png(2, 1, Uint8Array.of(9, 128, 200, 0), 2));
    expect([d.channels, Array.from(d.data)]).toEqual([4, [9, 9, 9, 128, 200, 200, 200, 0]]);
    d = decodeImage(png(2, 1, Uint16Array.of(65535, 0, 257, 32896, 0, 65535), 3, 16));
    expect(Array.from(d.data)).toEqual([255, 0, 1, 255, 128, 0, 255, 255]);
    d = decodeImage(png(10, 2, Uint8Array.of(0b10100000, 0b01000000, 0xff, 0xc0), 1, 1)); // rows are byte-aligned
    expect(Array.from({ length: 20 }, (_, i) => d.data[4 * i])).toEqual([
      255, 0, 255, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    ]);
    d = decodeImage(png(3, 1, Uint8Array.of(2, 0, 1), 1, 8, [[10, 20, 30], [40, 50, 60], [70, 80, 90]]));
    expect([d.channels, Array.from(d.data)]).toEqual([3, [70, 80, 90, 255, 10, 20, 30, 255, 40, 50, 60, 255]]);
  });

  test('JPEG colour and grey (component count from the frame header)', () => {
    // grey-8x8.jpg: made with libjpeg-turbo `cjpeg -grayscale -quality 100` from pixel (x,y) = 16x + 8y (mod 256)
    const g = decodeImage(readFileSync(join(FIXTURES, 'grey-8x8.jpg')));
    expect([g.format, g.width, g.height, g.channels]).toEqual(['jpeg', 8, 8, 1]);
    const row4 = Array.from({ length: 8 }, (_, x) => g.data[(4 * 8 + x) * 4]);
    row4.forEach((v, x) => expect(Math.abs(v - (16 * x + 32))).toBeLessThanOrEqual(1)); // djpeg gives exactly 16x + 32
    expect(g.data[(4 * 8 + 3) * 4 + 1]).toBe(row4[3]); // R = G = B
    const d = decodeImage(jpg(16, 8, gradient(16, 8, 77)));
    expect([d.format, d.width, d.height, d.channels]).toEqual(['jpeg', 16, 8, 3]);
    // q=100 with 4:2:0 chroma: within a few levels of the source
    expect(Math.abs(d.data[(3 * 16 + 5) * 4] - 50)).toBeLessThanOrEqual(6);
    expect(Math.abs(d.data[(3 * 16 + 5) * 4 + 1] - 30)).toBeLessThanOrEqual(6);
  });

  test('format is sniffed from the bytes; corrupt and unknown inputs are E_IMAGE', () => {
    const bytes = png(2, 2, new Uint8Array(16).fill(200), 4);
    expect(decodeImage(bytes).format).toBe('png');
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(0), /empty image/],
      [new TextEncoder().encode('GIF89a....'), /unknown image format \(first bytes 47 49 46 38\)/],
      [bytes.subarray(0, 30), /corrupt PNG/],
      [Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0, 4, 1, 2, 0xff, 0xd9), /corrupt JPEG/],
    ];
    for (const [b, re] of cases) {
      let err: unknown;
      try {
        decodeImage(b);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(VitguardError);
      expect((err as VitguardError).code).toBe('E_IMAGE');
      expect((err as Error).message).toMatch(re);
    }
  });

  test('rgbaToChannels: luma as PIL convert("L")', () => {
    expect(Array.from(rgbaToChannels(Uint8Array.of(255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 9, 77, 77, 77, 0), 1))).toEqual([76, 150, 29, 77]);
  });
});

describe('folder: datasets', () => {
  test('labels are sorted folder names; PNG and JPEG mixed; dotfiles ignored', async () => {
    const root = tree('ok', {
      'zebra/b.png': png(4, 2, gradient(4, 2, 1), 4),
      'zebra/a.PNG': png(4, 2, gradient(4, 2, 2), 4),
      'Apple/x.jpg': jpg(8, 8, gradient(8, 8, 3)),
      'Apple/.DS_Store': 'junk',
      'mango/m.jpeg': png(3, 3, gradient(3, 3, 4), 4), // PNG bytes under a .jpeg name: sniffed, read as PNG
      '.hidden/ignored.txt': 'x',
    });
    const ds = await openDataset(`folder:${root}`);
    expect(ds.labels).toEqual(['Apple', 'mango', 'zebra']); // code-unit order: capitals first
    expect(ds.size).toBe(4);
    expect(Array.from(ds.targets)).toEqual([0, 1, 2, 2]);
    expect([ds.width, ds.height, ds.channels]).toEqual([8, 8, 3]); // from the first image (Apple/x.jpg)
    const s = await loadSamples(`folder:${root}`);
    expect(s.map((x) => x.source)).toEqual([join(root, 'Apple/x.jpg'), join(root, 'mango/m.jpeg'), join(root, 'zebra/a.PNG'), join(root, 'zebra/b.png')]);
    expect(s.map((x) => [x.width, x.height, x.channels, x.pixels.length])).toEqual([
      [8, 8, 3, 192],
      [3, 3, 3, 27],
      [4, 2, 3, 24],
      [4, 2, 3, 24],
    ]);
    expect(Array.from(s[2].pixels.subarray(3 * 5, 3 * 6))).toEqual([10, 10, 2]); // zebra/a.PNG pixel (x=1,y=1), alpha dropped
    const grey = await loadSamples(`folder:${root}:2`, { channels: 1 });
    // :2 over 3 classes → one each to the two smallest labels
    expect(grey.map((g) => [g.label, g.channels, g.pixels.length])).toEqual([
      [0, 1, 64],
      [1, 1, 9],
    ]);
    // mango/m.jpeg pixel (x=1,y=1) is RGB (10,10,4) → luma round(0.299·10 + 0.587·10 + 0.114·4) = 9
    expect(grey[1].pixels[4]).toBe(9);
  });

  test('errors name the offending path', async () => {
    const good = png(2, 2, new Uint8Array(16).fill(9), 4);
    const cases: [string, Record<string, Uint8Array | string | null>, string][] = [
      ['empty', {}, 'is empty'],
      ['onlydot', { '.git/x': 'x' }, 'is empty'],
      ['stray', { 'a/1.png': good, 'notes.txt': 'hi' }, 'stray file'],
      ['emptyclass', { 'a/1.png': good, 'b': null }, 'holds no images'],
      ['nonimage', { 'a/1.png': good, 'a/readme.md': '#' }, 'a/readme.md is not a PNG or JPEG'],
      ['nested', { 'a/1.png': good, 'a/sub/2.png': good }, 'a/sub is not an image file'],
      ['firstbad', { 'a/1.png': 'not a png' }, 'unreadable image'],
    ];
    for (const [name, files, msg] of cases) {
      const root = tree(name, files);
      await expect(openDataset(`folder:${root}`), name).rejects.toMatchObject({ code: 'E_DATA', message: expect.stringContaining(msg) });
    }
    await expect(openDataset(`folder:${join(tmp, 'stray')}`)).rejects.toThrow(join(tmp, 'stray', 'notes.txt'));
  });

  test('an unreadable image later in the folder fails when read, naming the file', async () => {
    const good = png(2, 2, new Uint8Array(16).fill(9), 4);
    const root = tree('laterbad', { 'a/1.png': good, 'b/2.jpg': good.subarray(0, 40), 'b/3.png': good });
    const ds = await openDataset(`folder:${root}`);
    expect(ds.size).toBe(3);
    await expect(ds.at(1)).rejects.toMatchObject({
      code: 'E_DATA',
      message: expect.stringMatching(new RegExp(`unreadable image ${join(root, 'b/2.jpg')}: corrupt PNG`)),
    });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const s of ds) seen.push(s.source!);
      })(),
    ).rejects.toThrow(/b\/2\.jpg/);
    expect(seen).toEqual([join(root, 'a/1.png')]);
  });
});
