#!/usr/bin/env python3
"""Re-evaluate checkpoints written by train.py on CPU float32 and compare with their .torch-acc.json / .logits16.json.

    python3 tools/train/verify.py tools/train/out/fmnist-vit.safetensors [more.safetensors ...] [--data DIR]

Rebuilds the model from the file's __metadata__ alone (embed_dim, depth, num_heads, ...), so it also checks that the
metadata is enough to run the checkpoint. Exits 1 if top-1 differs by more than 0.05 points or a logit by > 1e-3.
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import DEFAULT_DATA, ViT, load_split, normalise, predict, read_safetensors  # noqa: E402


def model_from_metadata(md):
    return ViT(img_size=int(md['img_size']), patch=int(md['patch_size']), in_chans=int(md['in_chans']),
               dim=int(md['embed_dim']), depth=int(md['depth']), heads=int(md['num_heads']),
               mlp_ratio=float(md['mlp_ratio']), num_classes=int(md['num_classes']),
               distilled=json.loads(md['distilled']),
               layer_scale_init=1.0 if json.loads(md['layer_scale']) else None,
               no_embed_class=json.loads(md['no_embed_class']), reg_tokens=int(md.get('reg_tokens', '0')))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('checkpoints', nargs='+')
    p.add_argument('--data', default=DEFAULT_DATA)
    args = p.parse_args()
    xte_u8, yte_np = load_split(args.data, 'test')
    x, y = normalise(xte_u8), torch.from_numpy(yte_np)
    ok = True
    for path in args.checkpoints:
        tensors, md = read_safetensors(path)
        model = model_from_metadata(md)
        model.load_state_dict(tensors, strict=True)
        logits = predict(model, x, batch=500)
        top1 = 100.0 * (logits.argmax(1) == y).sum().item() / y.shape[0]
        stem = path[:-len('.safetensors')]
        ref = json.load(open(stem + '.torch-acc.json'))
        ref16 = json.load(open(stem + '.logits16.json'))
        dlog = (logits[:16] - torch.tensor(ref16['logits'])).abs().max().item()
        good = abs(top1 - ref['top1']) <= 0.05 and ref['n'] == y.shape[0] and dlog <= 1e-3
        ok &= good
        print(f'{os.path.basename(path)}: top-1 {top1:.2f} % (recorded {ref["top1"]:.2f} %, n {y.shape[0]}), '
              f'max |Δlogit| first 16 = {dlog:.2e}  {"OK" if good else "MISMATCH"}', flush=True)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
