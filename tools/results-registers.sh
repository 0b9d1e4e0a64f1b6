#!/bin/sh
# `npm run results:registers` (part of `npm run results`): the register arm. models/fmnist-vit-reg (a ViT with 4
# register tokens, timm's reg_token) against its matched control models/fmnist-vit-scratch (the same architecture
# without registers, trained with the same CPU-sized recipe: first 10 000 training images, 4 epochs, batch 128 —
# tools/train/README.md) and the shipped models/fmnist-vit (40 epochs on all 60 000 images, a GPU): accuracy, AUPR-out
# per OOD set and score at fp32, w8a8, w4a8, w4a4 with bootstrap intervals, each model's drop against the first on the
# same images, then inspect's outlier-token measures (norms, sinks, the class token's and the registers' attention
# share). Writes docs/registers.{md,html}. Without the control in models/ the comparison runs against fmnist-vit only.
set -eu
cd "$(dirname "$0")/.."
models=""
if [ -f models/fmnist-vit-scratch.safetensors ]; then
  models="--model models/fmnist-vit-scratch.safetensors"
else
  echo "results:registers: models/fmnist-vit-scratch.safetensors (the matched control, tools/train/pretraining-control.sh vit) is missing; comparing with fmnist-vit only" >&2
fi
models="$models --model models/fmnist-vit-reg.safetensors --model models/fmnist-vit.safetensors"
md=docs/registers.md
# shellcheck disable=SC2086
node bin/vitguard.js eval $models --id fashion-mnist:test --ood mnist:test,notmnist:test,cifar10:test,noise:gaussian \
  --schemes fp32,w8a8,w4a8,w4a4 --scores msp,maxlogit,energy,mahalanobis,knn,vim --fit fashion-mnist:train:2000 --limit 300 \
  --title "Register tokens and 4-bit OOD loss (ViT with 4 registers against its matched control, CPU-sized recipe)" \
  --markdown "$md" --report docs/registers.html --command "npm run results:registers" > /dev/null
# shellcheck disable=SC2086
node bin/vitguard.js inspect $models --data fashion-mnist:test:100 --schemes fp32,w4a8,w4a4 --markdown "$md" > /dev/null
