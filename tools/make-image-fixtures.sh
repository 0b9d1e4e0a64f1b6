#!/usr/bin/env bash
# Writes test/fixtures/images/: the PNG and JPEG files the image decoder tests read, and reference pixels for them.
# The files are committed, so `npm test` needs none of these tools. Debian packages:
#   apt-get install -y imagemagick libjpeg-turbo-progs libimage-exiftool-perl python3-pil
# ImageMagick 6 (convert-im6), libjpeg-turbo's cjpeg/jpegtran/djpeg, exiftool, and Debian's python3 with PIL
# (/usr/bin/python3). Runs in a few seconds; writes about 1.2 MB. Deterministic for a given set of tool versions.
#
#   jpeg/*.jpg        baseline 4:4:4 / 4:2:0 / 4:2:2 / 4:4:0 / 4:1:1 / mixed sampling, grey, RGB, CMYK (Adobe),
#                     YCCK, CMYK without an Adobe marker, 16-bit quantization tables, restart intervals, progressive
#                     (libjpeg's script and a 14-scan successive-approximation script), odd sizes 1×1, 17×9, 4001×3
#   jpeg/*.ref.png    djpeg -dct float -nosmooth output (replicated chroma, as our decoder at full scale), and
#                     *.ref-s2/-s4/-s8.png at -scale 1/2, 1/4, 1/8; cmyk-plain.ref.png is PIL's (djpeg assumes Adobe)
#   orient/           one picture stored in each EXIF orientation 1..8 (PNG eXIf, and JPEG via lossless jpegtran)
#   png/*.png         every colour type × bit depth, palette + tRNS, tRNS colour keys, Adam7 interlaced
#   bomb-8000.png     8000×8000 grey, 62 KB: the decompression bomb of issue 11; bomb-20000.png 20000×20000, 390 KB
#   phone-4000x3000.jpg / -progressive.jpg   a 12-megapixel photo-sized JPEG (4:2:0, EXIF orientation 6)
#   fmnist-boot-rot6.png / .jpg             demos/samples/fmnist-Ankle_boot-0.png stored turned, EXIF orientation 6
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=test/fixtures/images
PY=/usr/bin/python3
IM=$(command -v convert-im6 || command -v convert)
IM="$IM -define png:exclude-chunk=date,time"  # no timestamps: the same files on every run
for t in cjpeg jpegtran djpeg exiftool; do command -v "$t" >/dev/null || { echo "needs $t (see the header)" >&2; exit 1; }; done
$PY -c 'import PIL' 2>/dev/null || { echo "needs python3-pil for $PY" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
rm -rf "$OUT"
mkdir -p "$OUT/jpeg" "$OUT/png" "$OUT/orient"

# --- sources: a photo-like plasma (8-bit) and a version with alpha ---------------------------------------------
$IM -size 67x45 -seed 7 plasma:fractal -depth 8 "$TMP/src.ppm"
$IM -size 17x9 -seed 8 plasma:fractal -depth 8 "$TMP/src17x9.ppm"
$IM -size 4001x3 -seed 9 plasma:fractal -depth 8 "$TMP/src4001x3.ppm"
$IM -size 1x1 xc:'rgb(200,120,40)' -depth 8 "$TMP/src1x1.ppm"

J=$OUT/jpeg
cjpeg -quality 90 -sample 1x1 "$TMP/src.ppm" > "$J/baseline-444.jpg"
cjpeg -quality 90 -sample 2x2 "$TMP/src.ppm" > "$J/baseline-420.jpg"
cjpeg -quality 90 -sample 2x1 "$TMP/src.ppm" > "$J/baseline-422.jpg"
cjpeg -quality 90 -sample 1x2 "$TMP/src.ppm" > "$J/baseline-440.jpg"
cjpeg -quality 90 -sample 4x1 "$TMP/src.ppm" > "$J/baseline-411.jpg"
cjpeg -quality 90 -sample 1x1,2x1,1x2 "$TMP/src.ppm" > "$J/baseline-mixed.jpg"   # luma 1×1 under chroma 2×1 / 1×2
cjpeg -quality 90 -grayscale "$TMP/src.ppm" > "$J/grey.jpg"
cjpeg -quality 90 -rgb "$TMP/src.ppm" > "$J/rgb.jpg"                            # Adobe transform 0, ids R G B
cjpeg -quality 5 "$TMP/src.ppm" > "$J/q5-16bit-tables.jpg"                       # quantizers > 255: 16-bit DQT
cjpeg -quality 90 -restart 1B "$TMP/src.ppm" > "$J/restart-every-mcu.jpg"
cjpeg -quality 90 -restart 1 -sample 2x1 "$TMP/src.ppm" > "$J/restart-every-row.jpg"
cjpeg -quality 90 -progressive "$TMP/src.ppm" > "$J/progressive.jpg"
cjpeg -quality 90 -progressive -grayscale "$TMP/src.ppm" > "$J/progressive-grey.jpg"
cjpeg -quality 90 -progressive -restart 1B "$TMP/src.ppm" > "$J/progressive-restart.jpg"
cjpeg -quality 90 -progressive -sample 1x1 "$TMP/src.ppm" > "$J/progressive-444.jpg"
# 14 scans: DC and AC split in bands, each refined over two or three successive-approximation passes
cat > "$TMP/scans.txt" <<'EOF'
0 1 2: 0 0 0 2;
0: 1 2 0 3;
0: 3 9 0 3;
0: 10 63 0 2;
1: 1 63 0 1;
2: 1 63 0 1;
0 1 2: 0 0 2 1;
0 1 2: 0 0 1 0;
0: 1 9 3 2;
0: 1 63 2 1;
0: 1 63 1 0;
1: 1 63 1 0;
2: 1 5 1 0;
2: 6 63 1 0;
EOF
jpegtran -scans "$TMP/scans.txt" "$J/baseline-420.jpg" > "$J/progressive-14-scans.jpg"
cjpeg -quality 90 "$TMP/src17x9.ppm" > "$J/odd-17x9.jpg"
cjpeg -quality 90 -progressive "$TMP/src17x9.ppm" > "$J/odd-17x9-progressive.jpg"
cjpeg -quality 90 "$TMP/src4001x3.ppm" > "$J/odd-4001x3.jpg"
cjpeg -quality 90 "$TMP/src1x1.ppm" > "$J/odd-1x1.jpg"
# CMYK: PIL writes Adobe CMYK (transform 0, stored inverted); ImageMagick writes Adobe YCCK (transform 2)
$PY - "$TMP/src.ppm" "$J" <<'EOF'
import sys
from PIL import Image
src, out = sys.argv[1], sys.argv[2]
Image.open(src).convert('CMYK').save(f'{out}/cmyk-adobe.jpg', quality=90)
# the same file without its APP14 segment: a reader must take the samples as plain (non-inverted) ink
b = open(f'{out}/cmyk-adobe.jpg', 'rb').read()
p, parts = 2, [b[:2]]
while True:
    m, n = b[p + 1], int.from_bytes(b[p + 2:p + 4], 'big')
    if m == 0xDA:
        parts.append(b[p:]); break
    if m != 0xEE: parts.append(b[p:p + 2 + n])
    p += 2 + n
open(f'{out}/cmyk-plain.jpg', 'wb').write(b''.join(parts))
Image.open(f'{out}/cmyk-plain.jpg').convert('RGB').save(f'{out}/cmyk-plain.ref.png')
EOF
$IM "$TMP/src.ppm" -colorspace CMYK -quality 90 "$J/ycck.jpg"

# references: djpeg, float IDCT, replicated chroma; reduced scales for a few
for f in "$J"/*.jpg; do
  b=${f%.jpg}
  [ "$(basename "$b")" = cmyk-plain ] && continue
  djpeg -dct float -nosmooth -pnm "$f" > "$TMP/r.pnm" && $IM "$TMP/r.pnm" "$b.ref.png"
done
for n in baseline-420 baseline-444 baseline-422 grey progressive progressive-14-scans ycck odd-17x9; do
  for s in 2 4 8; do djpeg -dct float -nosmooth -scale 1/$s -pnm "$J/$n.jpg" > "$TMP/r.pnm" && $IM "$TMP/r.pnm" "$J/$n.ref-s$s.png"; done
done

# --- PNG: every colour type × bit depth ------------------------------------------------------------------------
P=$OUT/png
$IM -size 37x23 -seed 11 plasma:fractal -depth 16 "$TMP/p.ppm"
$IM "$TMP/p.ppm" \( -size 37x23 gradient:white-black -rotate 90 -resize 37x23! \) -alpha off -compose copy_opacity -composite -depth 16 "$TMP/pa.png"
$IM "$TMP/p.ppm" -colorspace gray -monochrome -define png:color-type=0 -define png:bit-depth=1 "$P/grey-1.png"
for d in 2 4 8 16; do $IM "$TMP/p.ppm" -colorspace gray -depth $d -define png:color-type=0 -define png:bit-depth=$d "$P/grey-$d.png"; done
for d in 8 16; do
  $IM "$TMP/p.ppm" -depth $d -define png:color-type=2 -define png:bit-depth=$d "$P/rgb-$d.png"
  $IM "$TMP/pa.png" -colorspace gray -depth $d -define png:color-type=4 -define png:bit-depth=$d "$P/grey-alpha-$d.png"
  $IM "$TMP/pa.png" -depth $d -define png:color-type=6 -define png:bit-depth=$d "$P/rgba-$d.png"
done
for d in 1 2 4 8; do $IM "$TMP/p.ppm" -depth 8 +dither -colors $((1 << d)) -define png:bit-depth=$d "PNG8:$P/palette-$d.png"; done
$IM "$P/palette-4.png" -define png:bit-depth=4 -interlace PNG "PNG8:$P/palette-4-interlaced.png"
# palette with partial alpha per entry (tRNS shorter than the palette: the rest are opaque)
$PY - "$TMP/p.ppm" "$P/palette-trns.png" <<'EOF'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert('RGB').quantize(colors=40, dither=Image.Dither.NONE)
im.save(sys.argv[2], transparency=bytes((i * 9) % 256 for i in range(30)))
EOF
# tRNS colour keys: one grey level / one RGB colour made transparent
$IM "$TMP/p.ppm" -colorspace gray -depth 8 -fill black -draw 'rectangle 3,3 9,9' -transparent black -define png:color-type=0 "$P/grey-key-8.png"
$IM "$TMP/p.ppm" -depth 8 -fill 'rgb(10,20,30)' -draw 'rectangle 3,3 9,9' -transparent 'rgb(10,20,30)' -define png:color-type=2 "$P/rgb-key-8.png"
$IM "$TMP/p.ppm" -depth 16 -fill 'rgb(10,20,30)' -draw 'rectangle 3,3 9,9' -transparent 'rgb(10,20,30)' -define png:color-type=2 -define png:bit-depth=16 "$P/rgb-key-16.png"
# Adam7
for n in rgba-8 rgb-16 grey-2 grey-alpha-16; do $IM "$P/$n.png" -interlace PNG "$P/$n-interlaced.png"; done
$IM -size 3x2 xc:'rgb(10,200,90)' -fill 'rgb(250,5,5)' -draw 'point 2,1' -interlace PNG -define png:color-type=2 "$P/tiny-3x2-interlaced.png"
$IM -size 1x1 xc:'rgb(10,200,90)' -define png:color-type=2 "$P/one-1x1.png"

# --- orientation -------------------------------------------------------------------------------------------------
O=$OUT/orient
# upright picture: 7×4, asymmetric. Each file stores it transformed so that applying its tag restores it.
$IM -size 7x4 -seed 5 plasma:fractal -depth 8 "$TMP/up.png"
$IM "$TMP/up.png" -define png:color-type=2 "$O/upright.png"
store=( "" "" "-flop" "-rotate 180" "-flip" "-transpose" "-rotate 270" "-transverse" "-rotate 90" )  # inverse of tag n
for o in 1 2 3 4 5 6 7 8; do
  $IM "$TMP/up.png" ${store[$o]} -define png:color-type=2 "$O/o$o.png"
  exiftool -q -overwrite_original "-Orientation#=$o" "$O/o$o.png"
done
# JPEG: 16×8 q100 4:4:4, turned losslessly by jpegtran (whole MCUs, so -perfect holds)
$IM -size 16x8 -seed 6 plasma:fractal -depth 8 "$TMP/up16.ppm"
cjpeg -quality 100 -sample 1x1 "$TMP/up16.ppm" > "$O/upright.jpg"
jt=( "" "" "-flip horizontal" "-rotate 180" "-flip vertical" "-transpose" "-rotate 270" "-transverse" "-rotate 90" )
for o in 1 2 3 4 5 6 7 8; do
  jpegtran -perfect -copy none ${jt[$o]} "$O/upright.jpg" > "$O/o$o.jpg"
  exiftool -q -overwrite_original "-Orientation#=$o" "$O/o$o.jpg"
done

# --- a sample turned as a phone would store it (EXIF 6: display needs 90° clockwise) -------------------------------
$IM demos/samples/fmnist-Ankle_boot-0.png -rotate 270 -define png:color-type=0 "$OUT/fmnist-boot-rot6.png"
exiftool -q -overwrite_original '-Orientation#=6' "$OUT/fmnist-boot-rot6.png"
$IM demos/samples/fmnist-Ankle_boot-0.png -rotate 270 -resize 448x448 -quality 95 "$OUT/fmnist-boot-rot6.jpg"
exiftool -q -overwrite_original '-Orientation#=6' "$OUT/fmnist-boot-rot6.jpg"

# --- 12 megapixels: a phone-sized photo (smooth content keeps it small) -------------------------------------------
$IM -size 400x300 -seed 12 plasma:fractal -blur 0x1 -resize 4000x3000! -depth 8 "$TMP/phone.ppm"
cjpeg -quality 70 -sample 2x2 "$TMP/phone.ppm" > "$OUT/phone-4000x3000.jpg"
exiftool -q -overwrite_original '-Orientation#=6' '-Make=vitguard' '-Model=fixture' "$OUT/phone-4000x3000.jpg"
jpegtran -progressive -copy all "$OUT/phone-4000x3000.jpg" > "$OUT/phone-4000x3000-progressive.jpg"

# --- decompression bombs: all-zero grey rows, zlib level 9 --------------------------------------------------------
$PY - "$OUT" <<'EOF'
import sys, zlib, struct
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
for n in (8000, 20000):
    z = zlib.compressobj(9)
    row = bytes(n + 1)  # filter byte 0 + n zero samples
    data = b''.join(z.compress(row) for _ in range(n)) + z.flush()
    png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', n, n, 8, 0, 0, 0, 0)) + chunk(b'IDAT', data) + chunk(b'IEND', b'')
    open(f'{sys.argv[1]}/bomb-{n}.png', 'wb').write(png)
EOF
du -sh "$OUT"
