#!/usr/bin/python3
"""PyTorch twin of difflab's class-conditioned MNIST training (the `mnist-text` preset with the
`class-label` conditioner), to tell a difflab bug from a property of the recipe.

Same data (the 8,000 training digits of the `mnist` package, exported by difflab), same network
(packages/models/src/patch-transformer.ts with `conditioning: 'adaln'`, docs/image-models.md: patch
4, width 96, depth 4, 4 heads, MLP ratio 4, diffusers' timestep embedding, Linear(condDim, 4w)
condition added to temb, adaLN-Zero in every block and at the output, torch's default init), same
condition (nn.Embedding(10, 128) N(0, 1), the zero vector for the null condition), same training
(cosine `squaredcos_cap_v2` schedule at T = 1000, epsilon prediction, Adam lr 1e-3 with 200 linear
warm-up steps and cosine decay, global-norm clip 1, batch 64, 10% condition dropout, EMA 0.999
with diffusers' (1 + s) / (10 + s) warm-up), and the same sampling (DDIM, 50 'leading' steps,
eta 0, x_0 clipped to [-1, 1], classifier-free guidance eps_u + g (eps_c - eps_u)).

Input:  DIR/mnist-train-x.f32 (float32 [N, 28, 28, 1] in [-1, 1]) and DIR/mnist-train-y.i32,
        written by `node tools/reference/export-mnist.mjs DIR` (after `npm run build`).
Output: DIR/torch-g<g>.f32 (float32 [10 * per_class, 28, 28, 1]) and DIR/torch-labels.i32 for
        `node tools/reference/judge-images.mjs`, and the loss curve in DIR/torch-loss.json.

Run:  /usr/bin/python3 tools/reference/mnist_dit_reference.py DIR STEPS [PER_CLASS] [SNR_GAMMA]
      (DIT_WIDTH, DIT_DEPTH, DIT_HEADS, DIT_RATIO, DIT_PATCH, DIT_BATCH, DIT_LR, DIT_EMA override the preset)
"""

import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# the benchmark's twin layers: diffusers' timestep embedding + MLP, MAE's 2-D positions, the block
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'bench'))
from reference_torch import TBlock, TimeMLP, sincos_2d  # noqa: E402

# the mnist-text preset; the environment can change a setting to try a recipe (DIT_WIDTH=128 ...)
env = lambda k, v: type(v)(os.environ.get('DIT_' + k, v))
W, DEPTH, HEADS, RATIO, PATCH, SIZE = env('WIDTH', 96), env('DEPTH', 4), env('HEADS', 4), env('RATIO', 4), env('PATCH', 4), 28
PRED = env('PRED', 'epsilon')  # or v_prediction
COND_DIM, T, BATCH, LR, WARMUP, DROPOUT, EMA_DECAY = 128, 1000, env('BATCH', 64), env('LR', 1e-3), 200, 0.1, env('EMA', 0.999)


def modulate(x, shift, scale):
    return x * (1 + scale[:, None]) + shift[:, None]


class Block(TBlock):
    """The benchmark's pre-norm block (same layers, same init order) with adaLN-Zero."""

    def __init__(self):
        super().__init__(W, HEADS, RATIO)
        self.ada = nn.Linear(4 * W, 6 * W)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(self, h, c):
        b, n, _ = h.shape
        s1, sc1, g1, s2, sc2, g2 = self.ada(c).chunk(6, dim=1)
        a = modulate(self.ln1(h), s1, sc1)
        q, k, v = self.qkv(a).reshape(b, n, 3, HEADS, W // HEADS).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(W // HEADS), dim=-1)
        y = self.proj((att @ v).transpose(1, 2).reshape(b, n, W))
        h = h + g1[:, None] * y
        z = self.fc2(F.gelu(self.fc1(modulate(self.ln2(h), s2, sc2))))
        return h + g2[:, None] * z


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.time = TimeMLP(W)
        self.cond = nn.Linear(COND_DIM, 4 * W)
        self.table = nn.Embedding(10, COND_DIM)  # the class-label conditioner, N(0, 1)
        self.patch_embed = nn.Linear(PATCH * PATCH, W)
        self.time_proj = nn.Linear(4 * W, W)
        self.blocks = nn.ModuleList([Block() for _ in range(DEPTH)])
        self.norm_out = nn.LayerNorm(W)
        self.ada_out = nn.Linear(4 * W, 2 * W)
        nn.init.zeros_(self.ada_out.weight)
        nn.init.zeros_(self.ada_out.bias)
        self.proj_out = nn.Linear(W, PATCH * PATCH)
        self.register_buffer('pos', sincos_2d(W, SIZE // PATCH, SIZE // PATCH)[None])

    def forward(self, x, t, labels, keep):
        # x [B, 28, 28, 1] (NHWC as difflab); labels [B]; keep [B] float (0: null condition)
        b = x.shape[0]
        g = SIZE // PATCH
        temb = self.time(t)
        temb = temb + self.cond(self.table(labels) * keep[:, None])
        tok = x.reshape(b, g, PATCH, g, PATCH).permute(0, 1, 3, 2, 4).reshape(b, g * g, PATCH * PATCH)
        h = self.patch_embed(tok) + self.pos + self.time_proj(F.silu(temb))[:, None]
        c = F.silu(temb)
        for blk in self.blocks:
            h = blk(h, c)
        shift, scale = self.ada_out(c).chunk(2, dim=1)
        out = self.proj_out(modulate(self.norm_out(h), shift, scale))
        return out.reshape(b, g, g, PATCH, PATCH).permute(0, 1, 3, 2, 4).reshape(b, SIZE, SIZE, 1)


def cosine_alphas_cumprod():
    ab = lambda s: math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2
    betas = [min(1 - ab((i + 1) / T) / ab(i / T), 0.999) for i in range(T)]
    return torch.cumprod(1 - torch.tensor(betas, dtype=torch.float64), 0).float()


def main():
    out_dir, steps = sys.argv[1], int(sys.argv[2])
    per_class = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    snr_gamma = float(sys.argv[4]) if len(sys.argv) > 4 else None
    torch.manual_seed(0)
    x_all = torch.from_numpy(np.fromfile(os.path.join(out_dir, 'mnist-train-x.f32'), dtype=np.float32).reshape(-1, SIZE, SIZE, 1))
    y_all = torch.from_numpy(np.fromfile(os.path.join(out_dir, 'mnist-train-y.i32'), dtype=np.int32).astype(np.int64))
    abar = cosine_alphas_cumprod()
    model = Model()
    ema = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.Adam(model.parameters(), lr=LR)

    def lr_at(s):  # diffusers get_cosine_schedule_with_warmup
        if s < WARMUP:
            return s / max(1, WARMUP)
        p = (s - WARMUP) / max(1, steps - WARMUP)
        return max(0.0, 0.5 * (1 + math.cos(math.pi * p)))

    losses = []
    t0 = time.time()
    for s in range(steps):
        for grp in opt.param_groups:
            grp['lr'] = LR * lr_at(s)
        idx = torch.randint(0, x_all.shape[0], (BATCH,))
        x0, lab = x_all[idx], y_all[idx]
        t = torch.randint(0, T, (BATCH,))
        eps = torch.randn_like(x0)
        a = abar[t][:, None, None, None]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        keep = (torch.rand(BATCH) >= DROPOUT).float()
        target = eps if PRED == 'epsilon' else a.sqrt() * eps - (1 - a).sqrt() * x0
        per_row = ((model(xt, t, lab, keep) - target) ** 2).mean(dim=(1, 2, 3))
        if snr_gamma is not None:
            snr = abar[t] / (1 - abar[t])
            per_row = per_row * torch.clamp(snr, max=snr_gamma) / (snr if PRED == 'epsilon' else snr + 1)
        loss = per_row.mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        d = min(EMA_DECAY, (1 + s + 1) / (10 + s + 1))
        with torch.no_grad():
            for e, p in zip(ema, model.parameters()):
                e.mul_(d).add_(p.detach(), alpha=1 - d)
        losses.append(loss.item())
        if (s + 1) % 100 == 0:
            print(f'step {s + 1}/{steps} loss {np.mean(losses[-100:]):.4f} {(s + 1) / (time.time() - t0):.1f} it/s', flush=True)
    with torch.no_grad():
        for e, p in zip(ema, model.parameters()):
            p.copy_(e)
    model.eval()
    labels = torch.arange(10).repeat_interleave(per_class)
    n = labels.shape[0]
    ts = list(range(0, T, T // 50))[::-1]  # 'leading': 980, 960, ..., 0
    for g in (1.0, 3.0):
        gen = torch.Generator().manual_seed(1)
        x = torch.randn(n, SIZE, SIZE, 1, generator=gen)
        with torch.no_grad():
            for i, t in enumerate(ts):
                tt = torch.full((n,), t)
                e_c = model(x, tt, labels, torch.ones(n))
                e_u = model(x, tt, labels, torch.zeros(n))
                e = e_u + g * (e_c - e_u)
                a_t = abar[t]
                if PRED != 'epsilon':  # guided v -> eps
                    e = a_t.sqrt() * e + (1 - a_t).sqrt() * x
                a_p = abar[t - T // 50] if t - T // 50 >= 0 else torch.tensor(1.0)
                x0 = ((x - (1 - a_t).sqrt() * e) / a_t.sqrt()).clamp(-1, 1)
                e = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()
                x = a_p.sqrt() * x0 + (1 - a_p).sqrt() * e
        x.numpy().astype(np.float32).tofile(os.path.join(out_dir, f'torch-g{g:g}.f32'))
    labels.numpy().astype(np.int32).tofile(os.path.join(out_dir, 'torch-labels.i32'))
    with open(os.path.join(out_dir, 'torch-loss.json'), 'w') as f:
        json.dump({'steps': steps, 'seconds': time.time() - t0, 'loss': losses}, f)
    print(f'trained {steps} steps in {time.time() - t0:.0f} s; final loss {np.mean(losses[-100:]):.4f}')


if __name__ == '__main__':
    main()
