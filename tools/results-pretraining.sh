#!/bin/sh
# `npm run results:pretraining` (part of `npm run results`): the pretraining-regime control per family — the three arms
# trained by tools/train/pretraining-control.sh (scratch, fdb10, fdb100: one CPU fine-tuning recipe) and the shipped
# model (40 epochs on the whole set) — through the study: accuracy, AUPR-out per OOD set and score at fp32, w8a8,
# w4a8, w4a4 and w4a4-oa with bootstrap intervals, each arm's drop and outlier-aware gain against the scratch arm on
# the same images, and inspect's outlier-token measures per arm. Writes docs/pretraining-<family>.{md,html}.
# A family whose arms are not all in models/ is skipped with a note.
set -eu
cd "$(dirname "$0")/.."
FAMILIES=${*:-vit deit3}
for fam in $FAMILIES; do
  models=""
  for arm in scratch fdb10 fdb100; do
    f=models/fmnist-$fam-$arm.safetensors
    if [ ! -f "$f" ]; then echo "results:pretraining: $f is missing (tools/train/pretraining-control.sh $fam); skipping $fam" >&2; models=""; break; fi
    models="$models --model $f"
  done
  [ -n "$models" ] || continue
  md=docs/pretraining-$fam.md
  # shellcheck disable=SC2086
  node bin/vitguard.js eval $models --model models/fmnist-$fam.safetensors --id fashion-mnist:test \
    --ood mnist:test,notmnist:test,cifar10:test,noise:gaussian --schemes fp32,w8a8,w4a8,w4a4,w4a4-oa \
    --scores msp,maxlogit,energy,mahalanobis,knn,vim --fit fashion-mnist:train:2000 --limit 300 \
    --title "Pretraining regime and 4-bit OOD loss: $fam (FractalDB-style pretraining, CPU-sized arms)" \
    --markdown "$md" --report docs/pretraining-$fam.html --command "npm run results:pretraining" > /dev/null
  # shellcheck disable=SC2086
  node bin/vitguard.js inspect $models --data fashion-mnist:test:100 --schemes fp32,w4a4,w4a4-oa \
    --calib fashion-mnist:train:2000 --markdown "$md" > /dev/null
done
