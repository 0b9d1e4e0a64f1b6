#!/usr/bin/env python3
"""Train small ViT / DeiT (distilled) / DeiT3 models on Fashion-MNIST and write timm-layout safetensors.

Reproducible: fixed seeds per family (a family trains the same whether run alone or inside `--family all`), no
DataLoader workers, augmentation drawn from a seeded generator. GPU runs are not bit-identical across machines
(cuBLAS / bf16 autocast), CPU runs are.

    python3 tools/train/train.py --family all --device cuda --out tools/train/out

    python3 tools/train/train.py --family vit --reg-tokens 4 ...    # the register arm: fmnist-vit-reg

    # the pretraining-regime control: FractalDB-style pretraining (tools/train/fractaldb.py), then fine-tuning
    python3 tools/train/train.py --family vit --pretrain fractal:10:300 --suffix=-fdb10 ...

Writes, per family NAME in {fmnist-vit, fmnist-deit, fmnist-deit3} (NAME-reg with --reg-tokens):
    <out>/NAME.safetensors      fp32 tensors, timm key names, __metadata__ (labels, mean, std, num_heads, ...)
    <out>/NAME.torch-acc.json   {"top1": %, "n": images, "correct": count} on the test set, CPU fp32 eval mode
    <out>/NAME.logits16.json    {"logits": [16][10]} CPU fp32 logits of the first 16 test images, "labels": [16]
    <out>/NAME.log.json         arguments, per-epoch loss / time / test accuracy (device, for monitoring only)

Only torch and numpy are needed (Debian: python3-torch); timm and safetensors are not used.
"""

import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------

FMNIST_LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
                 'Ankle boot']
FMNIST_MEAN = 0.2860  # mean of train pixels / 255
FMNIST_STD = 0.3530  # std of train pixels / 255
DEFAULT_DATA = '/usr/share/datasets/fashion-mnist'
FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}


def _open_idx(data_dir, stem):
    """Find STEM.gz or STEM in data_dir; return its bytes."""
    for name in (stem + '.gz', stem):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            with open(path, 'rb') as f:
                raw = f.read()
            return (gzip.decompress(raw) if raw[:2] == b'\x1f\x8b' else raw), path
    sys.exit(f'error: {stem}(.gz) not found in {data_dir} '
             f'(install Debian package dataset-fashion-mnist, or pass --data DIR holding the four idx files)')


def read_idx(data_dir, stem, magic, ndim):
    """Read an idx file → uint8 array of shape (count, *dims); check magic number and size."""
    buf, path = _open_idx(data_dir, stem)
    if len(buf) < 4 + 4 * ndim:
        sys.exit(f'error: {path}: truncated header')
    (m,) = struct.unpack('>I', buf[:4])
    if m != magic:
        sys.exit(f'error: {path}: magic {m:#x}, expected {magic:#x}')
    dims = struct.unpack('>' + 'I' * ndim, buf[4:4 + 4 * ndim])
    body = buf[4 + 4 * ndim:]
    if len(body) != int(np.prod(dims)):
        sys.exit(f'error: {path}: {len(body)} data bytes, header says {dims} = {int(np.prod(dims))}')
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def load_split(data_dir, split):
    """→ images uint8 (N, 28, 28), labels int64 (N,)."""
    img_stem, lbl_stem = FILES[split]
    x = read_idx(data_dir, img_stem, 0x00000803, 3)
    y = read_idx(data_dir, lbl_stem, 0x00000801, 1).astype(np.int64)
    if x.shape[0] != y.shape[0]:
        sys.exit(f'error: {split}: {x.shape[0]} images but {y.shape[0]} labels')
    return x, y


def normalise(x_u8):
    """uint8 (N, H, W) → float32 (N, 1, H, W), (x/255 - mean) / std."""
    x = torch.from_numpy(x_u8.astype(np.float32) / 255.0).unsqueeze(1)
    return (x - FMNIST_MEAN) / FMNIST_STD


def augment(x, gen, pad=2):
    """Random crop with `pad`-px zero padding (in raw-pixel terms: padding value = normalised 0) + horizontal flip.

    x: (B, 1, H, W) normalised float on any device; gen: torch.Generator on x's device. Returns (B, 1, H, W).
    """
    B, C, H, W = x.shape
    bg = -FMNIST_MEAN / FMNIST_STD  # a black pixel after normalisation
    xp = F.pad(x, (pad, pad, pad, pad), value=bg)  # (B, C, H+2p, W+2p)
    oy = torch.randint(0, 2 * pad + 1, (B,), device=x.device, generator=gen)
    ox = torch.randint(0, 2 * pad + 1, (B,), device=x.device, generator=gen)
    rows = (oy[:, None] + torch.arange(H, device=x.device))  # (B, H)
    cols = (ox[:, None] + torch.arange(W, device=x.device))  # (B, W)
    b = torch.arange(B, device=x.device)[:, None, None]
    out = xp[:, 0][b, rows[:, :, None], cols[:, None, :]].unsqueeze(1)  # (B, 1, H, W)
    flip = torch.rand(B, device=x.device, generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(-1), out)


# ---------------------------------------------------------------------------------------------------------------
# Models (plain torch; parameter names are timm's VisionTransformer / VisionTransformerDistilled names)
# ---------------------------------------------------------------------------------------------------------------

EPS = 1e-6


class PatchEmbed(nn.Module):
    def __init__(self, patch, in_chans, dim):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch)  # weight [D, C, P, P]

    def forward(self, x):  # (B, C, H, W) → (B, N, D), N = (H/P)·(W/P), row-major patches
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)  # weight [3D, D]: rows q (heads contiguous), then k, then v
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):  # (B, T, D) → (B, T, D)
        B, T, D = x.shape
        qkv = self.qkv(x).reshape(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)  # (3, B, H, T, hd)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if hasattr(F, 'scaled_dot_product_attention'):  # torch ≥ 2.0
            o = F.scaled_dot_product_attention(q, k, v)  # softmax(q·kᵀ/√hd)·v, (B, H, T, hd)
        else:  # Debian's torch 1.13
            a = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)  # (B, H, T, T)
            o = a.softmax(dim=-1) @ v
        return self.proj(o.transpose(1, 2).reshape(B, T, D))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact (erf) GELU


class LayerScale(nn.Module):
    def __init__(self, dim, init):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init)))

    def forward(self, x):
        return x * self.gamma


def drop_path(x, p, training):
    """Stochastic depth: drop the whole residual branch per sample (training only; no parameters)."""
    if p == 0.0 or not training:
        return x
    keep = (torch.rand(x.shape[0], 1, 1, device=x.device, dtype=x.dtype) >= p).to(x.dtype)
    return x * keep / (1.0 - p)


class Block(nn.Module):
    def __init__(self, dim, heads, hidden, layer_scale_init=None, drop_path_p=0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=EPS)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=EPS)
        self.mlp = Mlp(dim, hidden)
        if layer_scale_init is not None:
            self.ls1 = LayerScale(dim, layer_scale_init)
            self.ls2 = LayerScale(dim, layer_scale_init)
        else:
            self.ls1 = self.ls2 = nn.Identity()  # no parameters, so no state_dict keys
        self.drop_path_p = drop_path_p

    def forward(self, x):  # pre-norm: x + γ·attn(norm1(x)); x + γ·mlp(norm2(x))
        x = x + drop_path(self.ls1(self.attn(self.norm1(x))), self.drop_path_p, self.training)
        x = x + drop_path(self.ls2(self.mlp(self.norm2(x))), self.drop_path_p, self.training)
        return x


class ViT(nn.Module):
    """timm VisionTransformer (vit/deit3) or VisionTransformerDistilled (deit) with a class-token classifier."""

    def __init__(self, img_size=28, patch=4, in_chans=1, dim=96, depth=6, heads=3, mlp_ratio=4.0, num_classes=10,
                 distilled=False, layer_scale_init=None, no_embed_class=False, drop_path_rate=0.0, reg_tokens=0):
        super().__init__()
        self.distilled = distilled
        self.no_embed_class = no_embed_class
        self.reg_tokens = reg_tokens
        n_patches = (img_size // patch) ** 2
        n_prefix = (2 if distilled else 1) + reg_tokens
        self.patch_embed = PatchEmbed(patch, in_chans, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        if distilled:
            self.dist_token = nn.Parameter(torch.zeros(1, 1, dim))
        if reg_tokens:  # timm's reg_token [1, R, D] (Darcet et al. 2024): extra tokens no head reads
            self.reg_token = nn.Parameter(torch.zeros(1, reg_tokens, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n_patches + (0 if no_embed_class else n_prefix), dim))
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]  # linear stochastic-depth schedule
        self.blocks = nn.ModuleList(
            [Block(dim, heads, int(dim * mlp_ratio), layer_scale_init, dpr[i]) for i in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=EPS)
        self.head = nn.Linear(dim, num_classes)
        if distilled:
            self.head_dist = nn.Linear(dim, num_classes)
        self._init_weights()

    def _init_weights(self):
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        if self.distilled:
            nn.init.trunc_normal_(self.dist_token, std=0.02)
        if self.reg_tokens:
            nn.init.normal_(self.reg_token, std=1e-6)  # timm's init for reg_token
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_tokens(self, x):
        """(B, C, H, W) → final-normed tokens (B, T, D); T = prefix tokens (cls[, dist][, reg × R]) + patches."""
        x = self.patch_embed(x)  # (B, N, D)
        B = x.shape[0]
        prefix = [self.cls_token.expand(B, -1, -1)]
        if self.distilled:
            prefix.append(self.dist_token.expand(B, -1, -1))
        if self.reg_tokens:  # timm's _pos_embed order: cls, (dist,) registers, patches
            prefix.append(self.reg_token.expand(B, -1, -1))
        if self.no_embed_class:  # DeiT3: pos_embed covers patches only; class token prepended afterwards
            x = torch.cat(prefix + [x + self.pos_embed], dim=1)
        else:  # ViT / DeiT: pos_embed rows = [cls, (dist,) (registers,) patches]
            x = torch.cat(prefix + [x], dim=1) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def forward_heads(self, x):
        """→ (logits_cls, logits_dist or None), each (B, num_classes)."""
        t = self.forward_tokens(x)
        cls = self.head(t[:, 0])
        return cls, (self.head_dist(t[:, 1]) if self.distilled else None)

    def forward(self, x):
        """Eval output: head(cls), or (head(cls) + head_dist(dist)) / 2 when distilled (timm's inference output)."""
        cls, dist = self.forward_heads(x)
        return cls if dist is None else (cls + dist) / 2


class TeacherCNN(nn.Module):
    """Small CNN teacher for DeiT hard-label distillation (~93 % on Fashion-MNIST). Not exported."""

    def __init__(self, num_classes=10):
        super().__init__()

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                                 nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                                 nn.MaxPool2d(2))

        self.features = nn.Sequential(block(1, 32), block(32, 64), block(64, 128))  # 28 → 14 → 7 → 3
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(128 * 3 * 3, 256), nn.ReLU(),
                                        nn.Dropout(0.3), nn.Linear(256, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


FAMILIES = {
    # name: (file name, timm-style arch name, model kwargs)
    'vit': ('fmnist-vit', 'vit_fmnist_patch4_28', dict()),
    'deit': ('fmnist-deit', 'deit_fmnist_distilled_patch4_28', dict(distilled=True)),
    'deit3': ('fmnist-deit3', 'deit3_fmnist_patch4_28', dict(layer_scale_init=1e-4, no_embed_class=True)),
}
FAMILY_SEED = {'teacher': 1000, 'vit': 1001, 'deit': 1002, 'deit3': 1003}

# ---------------------------------------------------------------------------------------------------------------
# Safetensors writer (the format: u64 LE header length, JSON header, raw little-endian row-major data)
# ---------------------------------------------------------------------------------------------------------------


def write_safetensors(path, tensors, metadata):
    """tensors: {name: float32 torch tensor}; metadata: {str: str}. Tensors stored sorted by name, 8-byte aligned."""
    header = {'__metadata__': {str(k): str(v) for k, v in metadata.items()}}
    blobs, offset = [], 0
    for name in sorted(tensors):
        a = tensors[name].detach().to('cpu', torch.float32).contiguous().numpy().astype('<f4', copy=False)
        b = a.tobytes(order='C')
        header[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * ((8 - len(h) % 8) % 8)  # pad header so data starts 8-byte aligned (spaces are valid JSON)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    """Minimal reader (F32 only) used to check what was written → ({name: tensor}, metadata)."""
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        s, e = info['data_offsets']
        assert info['dtype'] == 'F32', name
        out[name] = torch.from_numpy(np.frombuffer(raw[base + s:base + e], dtype='<f4').copy()).reshape(info['shape'])
    return out, meta


# ---------------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------------


def lr_at(step, total, warmup, peak, floor):
    """Linear warm-up to `peak` over `warmup` steps, then cosine to `floor`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * t))


def param_groups(model, wd):
    """timm convention: no weight decay on biases, norms, layer-scale gammas, tokens and position embeddings."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.ndim <= 1 or name in ('cls_token', 'dist_token', 'reg_token', 'pos_embed'):
            no_decay.append(p)
        else:
            decay.append(p)
    return [{'params': decay, 'weight_decay': wd}, {'params': no_decay, 'weight_decay': 0.0}]


@torch.no_grad()
def predict(model, x, batch=1000):
    """Eval-mode logits for x (N, 1, H, W) on x's device, float32 (N, num_classes)."""
    model.eval()
    return torch.cat([model(x[i:i + batch]).float() for i in range(0, x.shape[0], batch)])


def make_optimizer(model, args, device):
    kw = dict(lr=args.lr, betas=(0.9, 0.999))
    if device.type == 'cuda':
        kw['fused'] = True
    return torch.optim.AdamW(param_groups(model, args.wd), **kw)


def train_loop(name, model, xtr, ytr, xte, yte, args, device, step_fn, epochs, log):
    """Shared loop: seeded shuffling + augmentation on `device`, AdamW, warm-up + cosine, optional bf16 autocast.

    step_fn(model, xb, yb) → scalar loss. Prints loss, time and (device) test accuracy per epoch.
    """
    gen = torch.Generator(device=device)
    gen.manual_seed(FAMILY_SEED[name.split('-')[1] if name.startswith('fmnist-') else name] + 7)  # fmnist-vit(-reg) → vit
    opt = make_optimizer(model, args, device)
    n = xtr.shape[0]
    steps_per_epoch = n // args.batch  # drop the ragged last batch: every step sees a full batch
    if steps_per_epoch == 0:
        sys.exit(f'error: {n} training images is fewer than one batch of {args.batch}')
    total = steps_per_epoch * epochs
    warmup = min(int(round(args.warmup_epochs * steps_per_epoch)), total // 2)
    amp = args.amp and device.type == 'cuda'
    step = 0
    for epoch in range(epochs):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, device=device, generator=gen)
        loss_sum = torch.zeros((), device=device)
        for i in range(steps_per_epoch):
            idx = perm[i * args.batch:(i + 1) * args.batch]
            xb = augment(xtr[idx], gen) if args.augment else xtr[idx]
            yb = ytr[idx]
            for g in opt.param_groups:
                g['lr'] = lr_at(step, total, warmup, args.lr, args.lr * 0.01)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                loss = step_fn(model, xb, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if args.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            loss_sum += loss.detach().float()
            step += 1
        if device.type == 'cuda':
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            acc = (predict(model, xte).argmax(1) == yte).float().mean().item() * 100
        mean_loss = loss_sum.item() / steps_per_epoch
        print(f'[{name}] epoch {epoch + 1:3d}/{epochs}  loss {mean_loss:.4f}  test(device) {acc:6.2f} %  '
              f'{dt:6.2f} s', flush=True)
        log.append({'epoch': epoch + 1, 'loss': mean_loss, 'test_top1_device': acc, 'seconds': dt})


def train_teacher(xtr, ytr, xte, yte, args, device):
    torch.manual_seed(FAMILY_SEED['teacher'])
    teacher = TeacherCNN().to(device)
    log = []

    def step_fn(model, xb, yb):
        return F.cross_entropy(model(xb), yb, label_smoothing=args.smoothing)

    t0 = time.perf_counter()
    train_loop('teacher', teacher, xtr, ytr, xte, yte, args, device, step_fn, args.teacher_epochs, log)
    teacher.eval()
    acc = (predict(teacher, xte).argmax(1) == yte).float().mean().item() * 100
    print(f'[teacher] test top-1 {acc:.2f} %  ({time.perf_counter() - t0:.1f} s)', flush=True)
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher, acc, log


def model_kwargs(args, family):
    kw = dict(img_size=28, patch=args.patch, in_chans=1, dim=args.dim, depth=args.depth, heads=args.heads,
              mlp_ratio=args.mlp_ratio, num_classes=10, drop_path_rate=args.drop_path)
    kw.update(FAMILIES[family][2])
    if args.reg_tokens:
        kw['reg_tokens'] = args.reg_tokens
    return kw


def names_for(family, args):
    """(file name, arch name): the family's, with -reg / _regN when the model has register tokens."""
    fname, arch, _ = FAMILIES[family]
    if args.reg_tokens:
        fname += '-reg'
        arch = arch.replace('_patch', f'_reg{args.reg_tokens}_patch', 1)
    return fname + args.suffix, arch


def metadata_for(family, args, kw, extra):
    fname, arch = names_for(family, args)
    md = {
        'arch': arch,
        'family': family,
        'labels': json.dumps(FMNIST_LABELS),
        'mean': json.dumps([FMNIST_MEAN]),
        'std': json.dumps([FMNIST_STD]),
        'crop_pct': '1.0',
        'interpolation': 'bilinear',
        'eps': '1e-6',
        # Architecture (heads cannot be inferred from tensor shapes, so it is stated here).
        'img_size': '28',
        'patch_size': str(kw['patch']),
        'in_chans': '1',
        'embed_dim': str(kw['dim']),
        'depth': str(kw['depth']),
        'num_heads': str(kw['heads']),
        'mlp_ratio': str(kw['mlp_ratio']),
        'num_classes': '10',
        'distilled': json.dumps(bool(kw.get('distilled', False))),
        'layer_scale': json.dumps(kw.get('layer_scale_init') is not None),
        'no_embed_class': json.dumps(bool(kw.get('no_embed_class', False))),
        'reg_tokens': str(kw.get('reg_tokens', 0)),
        'global_pool': 'token',
        'dataset': 'fashion-mnist',
        'source': 'tools/train/train.py',
        'train_args': json.dumps({k: v for k, v in vars(args).items() if k not in ('out', 'data')}),
    }
    md.update(extra)
    return md


def parse_pretrain(spec):
    """'fractal:C:N' → (C categories, N images per category)."""
    parts = spec.split(':')
    if len(parts) != 3 or parts[0] != 'fractal' or not parts[1].isdigit() or not parts[2].isdigit() \
            or int(parts[1]) < 2 or int(parts[2]) < 1:
        sys.exit(f'error: --pretrain must be fractal:CATEGORIES:PER_CATEGORY (e.g. fractal:10:300), got {spec!r}')
    return int(parts[1]), int(parts[2])


def pretrain(family, fname, args, device):
    """FractalDB-style pretraining (category classification, the fine-tuning recipe's optimiser and schedule) of a
    model with the family's architecture and initialisation. → (state dict without the head, record for metadata)."""
    from fractaldb import make_dataset  # tools/train/fractaldb.py, next to this script
    cats, per = parse_pretrain(args.pretrain)
    t0 = time.perf_counter()
    x_u8, y_np, stats = make_dataset(cats, per, seed=args.pretrain_seed)
    gen_s = time.perf_counter() - t0
    print(f'[{fname}] pretraining set: {cats} fractal categories × {per} = {len(y_np)} images, '
          f'{stats["systems_tried"]} systems tried, mean fill {stats["mean_fill"]:.3f}, {gen_s:.1f} s', flush=True)
    x, y = normalise(x_u8).to(device), torch.from_numpy(y_np).to(device)
    torch.manual_seed(FAMILY_SEED[family])  # the same initialisation as the arm trained from scratch
    kw = {**model_kwargs(args, family), 'num_classes': cats}
    model = ViT(**kw).to(device)

    def step_fn(m, xb, yb):
        return F.cross_entropy(m(xb), yb, label_smoothing=args.smoothing)

    # monitoring: accuracy on a fixed seeded sample of the pretraining set itself (the task has no test split here)
    mon = torch.from_numpy(np.random.default_rng(args.pretrain_seed).permutation(len(y_np))[:1000]).to(device)
    log = []
    t1 = time.perf_counter()
    train_loop(fname + ':pretrain', model, x, y, x[mon], y[mon], args, device, step_fn, args.pretrain_epochs, log)
    train_s = time.perf_counter() - t1
    state = {k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith('head')}
    record = {'data': f'fractal:{cats}:{per}', 'generator': 'tools/train/fractaldb.py', 'images': int(len(y_np)),
              'epochs': args.pretrain_epochs, 'seed': args.pretrain_seed, 'generation_seconds': round(gen_s, 1),
              'train_seconds': round(train_s, 1), 'final_train_top1': log[-1]['test_top1_device'] if log else None,
              'stats': stats}
    return state, record, log


def train_family(family, xtr, ytr, xte, yte, xte_cpu, yte_cpu, args, device, teacher=None, teacher_acc=None):
    fname, arch = names_for(family, args)
    pre = pre_log = None
    if args.pretrain:
        pre_state, pre, pre_log = pretrain(family, fname, args, device)
    torch.manual_seed(FAMILY_SEED[family])
    kw = model_kwargs(args, family)
    model = ViT(**kw).to(device)
    if args.pretrain:  # everything but the classifier head(s), which stay as initialised
        missing, unexpected = model.load_state_dict(pre_state, strict=False)
        if unexpected or any(not k.startswith('head') for k in missing):
            sys.exit(f'error: pretrained weights do not fit: missing {missing}, unexpected {unexpected}')
    n_params = sum(p.numel() for p in model.parameters())
    print(f'[{fname}] {arch}: {n_params:,} parameters, tokens = {1 + int(model.distilled) + args.reg_tokens} + '
          f'{(28 // args.patch) ** 2}', flush=True)

    if family == 'deit':
        def step_fn(m, xb, yb):
            with torch.no_grad():  # teacher sees the same augmented batch (DeiT hard-label distillation)
                y_teacher = teacher(xb).argmax(1)
            cls, dist = m.forward_heads(xb)
            return 0.5 * F.cross_entropy(cls, yb, label_smoothing=args.smoothing) + \
                0.5 * F.cross_entropy(dist, y_teacher)
    else:
        def step_fn(m, xb, yb):
            return F.cross_entropy(m(xb), yb, label_smoothing=args.smoothing)

    log = []
    t0 = time.perf_counter()
    mon = args.monitor if args.monitor > 0 else xte.shape[0]
    train_loop(fname, model, xtr, ytr, xte[:mon], yte[:mon], args, device, step_fn, args.epochs, log)
    train_s = time.perf_counter() - t0

    # Final evaluation: eval mode, CPU, float32, the whole test set (the number the SDK must match).
    model = model.to('cpu').float().eval()
    logits = predict(model, xte_cpu, batch=500)
    correct = int((logits.argmax(1) == yte_cpu).sum().item())
    n = int(yte_cpu.shape[0])
    top1 = 100.0 * correct / n
    print(f'[{fname}] FINAL test top-1 (CPU fp32, eval) {top1:.2f} %  ({correct}/{n}), trained in {train_s:.1f} s',
          flush=True)

    extra = {'torch_top1': f'{top1:.2f}', 'torch_test_n': str(n)}
    if pre is not None:
        extra['pretrain'] = json.dumps(pre)
    if teacher_acc is not None:
        extra['teacher'] = 'TeacherCNN (tools/train/train.py), hard-label distillation'
        extra['teacher_top1'] = f'{teacher_acc:.2f}'
    tensors = {k: v for k, v in model.state_dict().items()}
    path = os.path.join(args.out, fname + '.safetensors')
    write_safetensors(path, tensors, metadata_for(family, args, kw, extra))

    # Check: the file reloads into a fresh model and gives the same logits.
    back, md = read_safetensors(path)
    fresh = ViT(**{**kw, 'drop_path_rate': 0.0})
    fresh.load_state_dict(back, strict=True)
    fresh.eval()
    with torch.no_grad():
        diff = (fresh(xte_cpu[:16]) - logits[:16]).abs().max().item()
    # Not bit-exact only because a batch of 16 may take another BLAS path than a batch of 500.
    if diff > 1e-4:
        sys.exit(f'error: {path}: reloaded model logits differ from the trained model by {diff}')

    with open(os.path.join(args.out, fname + '.torch-acc.json'), 'w') as f:
        json.dump({'model': fname + '.safetensors', 'data': 'fashion-mnist:test', 'top1': round(top1, 4), 'n': n,
                   'correct': correct, 'eval': 'torch CPU float32, eval mode'}, f, indent=1)
        f.write('\n')
    with open(os.path.join(args.out, fname + '.logits16.json'), 'w') as f:
        json.dump({'model': fname + '.safetensors', 'data': 'fashion-mnist:test', 'first': 16,
                   'labels': yte_cpu[:16].tolist(),
                   'logits': [[float(v) for v in row] for row in logits[:16].tolist()]}, f)
        f.write('\n')
    with open(os.path.join(args.out, fname + '.log.json'), 'w') as f:
        json.dump({'arch': arch, 'params': n_params, 'top1': top1, 'train_seconds': train_s,
                   'teacher_top1': teacher_acc, 'args': {k: v for k, v in vars(args).items()}, 'epochs': log,
                   'pretrain': pre, 'pretrain_epochs': pre_log}, f, indent=1)
        f.write('\n')
    print(f'[{fname}] wrote {path} ({os.path.getsize(path):,} bytes)', flush=True)
    return top1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--family', default='all', choices=['vit', 'deit', 'deit3', 'all'])
    p.add_argument('--epochs', type=int, default=40)
    p.add_argument('--teacher-epochs', type=int, default=15)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu', choices=['cpu', 'cuda'])
    p.add_argument('--data', default=DEFAULT_DATA, help='folder with the four Fashion-MNIST idx files (.gz or raw)')
    p.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'out'))
    p.add_argument('--limit', type=int, default=0, help='smoke test: use only the first N train and N test images')
    p.add_argument('--batch', type=int, default=256)
    p.add_argument('--lr', type=float, default=2e-3)
    p.add_argument('--wd', type=float, default=0.05)
    p.add_argument('--warmup-epochs', type=float, default=5)
    p.add_argument('--smoothing', type=float, default=0.1)
    p.add_argument('--clip', type=float, default=1.0, help='gradient-norm clip (0 = off)')
    p.add_argument('--drop-path', type=float, default=0.1)
    p.add_argument('--dim', type=int, default=96)
    p.add_argument('--depth', type=int, default=6)
    p.add_argument('--heads', type=int, default=3)
    p.add_argument('--mlp-ratio', type=float, default=4.0)
    p.add_argument('--patch', type=int, default=4)
    p.add_argument('--reg-tokens', type=int, default=0,
                   help='register tokens (timm reg_token) after the class token; writes NAME-reg (default 0)')
    p.add_argument('--pretrain', default='',
                   help='pretrain on a FractalDB-style set first, fractal:CATEGORIES:PER_CATEGORY (tools/train/fractaldb.py), '
                        'then fine-tune every weight but the head on Fashion-MNIST')
    p.add_argument('--pretrain-epochs', type=int, default=2)
    p.add_argument('--pretrain-seed', type=int, default=0, help='seed of the fractal generator')
    p.add_argument('--train-limit', type=int, default=0, help='fine-tune on the first N training images only (test set whole)')
    p.add_argument('--monitor', type=int, default=0, help='per-epoch monitoring accuracy on the first N test images (0 = all)')
    p.add_argument('--suffix', default='', help='appended to the output name, e.g. --suffix=-fdb10 → fmnist-vit-fdb10')
    p.add_argument('--no-augment', dest='augment', action='store_false')
    p.add_argument('--no-amp', dest='amp', action='store_false', help='train in fp32 on CUDA (default: bf16 autocast)')
    p.add_argument('--threads', type=int, default=0, help='CPU threads for torch (0 = torch default)')
    args = p.parse_args(argv)

    if args.device == 'cuda' and not torch.cuda.is_available():
        sys.exit('error: --device cuda but torch.cuda.is_available() is False')
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = False  # keep fp32 matmuls fp32 outside autocast
        torch.backends.cudnn.allow_tf32 = False
    os.makedirs(args.out, exist_ok=True)

    t_all = time.perf_counter()
    xtr_u8, ytr_np = load_split(args.data, 'train')
    xte_u8, yte_np = load_split(args.data, 'test')
    if args.limit > 0:
        xtr_u8, ytr_np, xte_u8, yte_np = xtr_u8[:args.limit], ytr_np[:args.limit], xte_u8[:args.limit], yte_np[:args.limit]
    if args.train_limit > 0:
        xtr_u8, ytr_np = xtr_u8[:args.train_limit], ytr_np[:args.train_limit]
    if args.pretrain and args.family in ('deit', 'all'):
        sys.exit('error: --pretrain applies to vit and deit3 (the distilled DeiT would need its teacher on fractals too)')
    print(f'data: {args.data}  train {xtr_u8.shape}  test {xte_u8.shape}  device {device} '
          f'({torch.cuda.get_device_name() if device.type == "cuda" else f"{torch.get_num_threads()} threads"})  '
          f'torch {torch.__version__}', flush=True)
    xte_cpu, yte_cpu = normalise(xte_u8), torch.from_numpy(yte_np)
    # The whole data set lives on the device (60000·784·4 B = 188 MB): no DataLoader, no host transfers per step.
    xtr, ytr = normalise(xtr_u8).to(device), torch.from_numpy(ytr_np).to(device)
    xte, yte = xte_cpu.to(device), yte_cpu.to(device)

    families = ['vit', 'deit', 'deit3'] if args.family == 'all' else [args.family]
    if args.reg_tokens and 'deit' in families:
        sys.exit('error: --reg-tokens applies to vit and deit3 (timm has no distilled model with registers)')
    results = {}
    teacher = teacher_acc = None
    for fam in families:
        if fam == 'deit':
            teacher, teacher_acc, _ = train_teacher(xtr, ytr, xte, yte, args, device)
        results[names_for(fam, args)[0]] = train_family(fam, xtr, ytr, xte, yte, xte_cpu, yte_cpu, args, device,
                                                 teacher if fam == 'deit' else None,
                                                 teacher_acc if fam == 'deit' else None)
    summary = '  '.join(f'{k} {v:.2f} %' for k, v in results.items())
    if teacher_acc is not None:
        summary += f'  teacher {teacher_acc:.2f} %'
    print(f'summary (test top-1, CPU fp32): {summary}  total {time.perf_counter() - t_all:.1f} s', flush=True)


if __name__ == '__main__':
    main()
