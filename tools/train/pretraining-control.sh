#!/bin/sh
# The pretraining-regime control (issue 12), sized for 2 shared CPU cores: per family (ViT, then DeiT3) three arms
# fine-tuned with ONE recipe on the first 10 000 Fashion-MNIST training images (4 epochs, batch 128):
#   scratch  no pretraining (the ID-only arm at this recipe's budget)
#   fdb10    pretrained on 10 fractal categories × 400 images (4 epochs): the small regime ("ImageNet-1k")
#   fdb100   pretrained on 100 fractal categories × 200 images (4 epochs): the large regime ("ImageNet-22k")
# One training at a time, one thread each (torch.set_num_threads(1) via --threads 1); waits while another
# tools/train/train.py runs on the machine. Each model is converted into models/ as it finishes, so a cut run keeps
# what finished. Usage: sh tools/train/pretraining-control.sh [FAMILY ...]   (default: vit deit3)
set -eu
cd "$(dirname "$0")/../.."
OUT=tools/train/out-pretrain
mkdir -p "$OUT"
FAMILIES=${*:-vit deit3}
COMMON="--train-limit 10000 --epochs 4 --batch 128 --warmup-epochs 0.5 --monitor 1000 --pretrain-epochs 4 --threads 1 --device cpu --out $OUT"

wait_for_cpu() {
  while pgrep -f 'tools/train/train.py' >/dev/null; do
    echo "[control] another train.py is running; waiting" >&2
    sleep 30
  done
}

for fam in $FAMILIES; do
  for arm in scratch fdb10 fdb100; do
    case $arm in
      scratch) pre="" ;;
      fdb10) pre="--pretrain fractal:10:400" ;;
      fdb100) pre="--pretrain fractal:100:200" ;;
    esac
    name=fmnist-$fam-$arm
    if [ -f "models/$name.safetensors" ]; then echo "[control] models/$name.safetensors exists; skipping"; continue; fi
    wait_for_cpu
    start=$(date +%s)
    # shellcheck disable=SC2086
    /usr/bin/python3 tools/train/train.py --family "$fam" $pre --suffix="-$arm" $COMMON 2>&1 | tee "$OUT/$name.stdout"
    echo "[control] $name: $(( $(date +%s) - start )) s wall" | tee -a "$OUT/$name.stdout"
    node bin/vitguard.js convert "$OUT/$name.safetensors" -o "models/$name.safetensors" >/dev/null
  done
done
