// EXIF orientation (tag 0x0112) and how the decoders write pixels upright.
//
// A camera stores the sensor's rows as they came and records how it was held: 1 = upright, 2 = mirrored
// left↔right, 3 = turned 180°, 4 = mirrored top↔bottom, 5 = transposed, 6 = needs 90° clockwise, 7 = transverse,
// 8 = needs 90° counter-clockwise (EXIF 2.3, table of Orientation values). The decoders write every pixel straight to
// its upright place (no second buffer): a stored row y of a w×h image lands at `base + x·step` in the upright image,
// where (base, step) depend only on the orientation and y.

export type Orientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

/** Orientations 5..8 swap width and height. */
export function swapsAxes(o: Orientation): boolean {
  return o >= 5;
}

/** Upright size of a stored w×h image. */
export function orientedSize(o: Orientation, w: number, h: number): { width: number; height: number } {
  return swapsAxes(o) ? { width: h, height: w } : { width: w, height: h };
}

/**
 * Where stored row y of a w×h image goes in the upright image: pixel x of that row is upright pixel index
 * base + x·step (pixel units, row-major in the upright image).
 */
export function orientedRow(o: Orientation, w: number, h: number, y: number): { base: number; step: number } {
  switch (o) {
    case 1: return { base: y * w, step: 1 };
    case 2: return { base: y * w + w - 1, step: -1 };
    case 3: return { base: (h - 1 - y) * w + w - 1, step: -1 };
    case 4: return { base: (h - 1 - y) * w, step: 1 };
    case 5: return { base: y, step: h };
    case 6: return { base: h - 1 - y, step: h };
    case 7: return { base: (w - 1) * h + h - 1 - y, step: -h };
    case 8: return { base: (w - 1) * h + y, step: -h };
  }
}

// --- EXIF ------------------------------------------------------------------------------------------------------

/**
 * The Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block (what follows "Exif\0\0" in a JPEG APP1
 * segment, or a PNG eXIf chunk). Anything missing, malformed or out of range reads as 1: EXIF is advice, and a photo
 * with a broken EXIF block still decodes.
 */
export function exifOrientation(tiff: Uint8Array): Orientation {
  if (tiff.length < 8) return 1;
  const le = tiff[0] === 0x49 && tiff[1] === 0x49; // "II"
  const be = tiff[0] === 0x4d && tiff[1] === 0x4d; // "MM"
  if (!le && !be) return 1;
  const u16 = (p: number) => (le ? tiff[p] | (tiff[p + 1] << 8) : (tiff[p] << 8) | tiff[p + 1]);
  const u32 = (p: number) => (le ? (tiff[p] | (tiff[p + 1] << 8) | (tiff[p + 2] << 16)) + tiff[p + 3] * 2 ** 24 : tiff[p] * 2 ** 24 + ((tiff[p + 1] << 16) | (tiff[p + 2] << 8) | tiff[p + 3]));
  if (u16(2) !== 42) return 1;
  const ifd = u32(4);
  if (ifd < 8 || ifd + 2 > tiff.length) return 1;
  const n = u16(ifd);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > tiff.length) return 1;
    if (u16(e) !== 0x0112) continue;
    const type = u16(e + 2);
    // SHORT (3) is the type the standard gives; some writers use LONG (4). The value sits in the entry itself.
    const v = type === 3 ? u16(e + 8) : type === 4 ? u32(e + 8) : 0;
    return v >= 1 && v <= 8 ? (v as Orientation) : 1;
  }
  return 1;
}
