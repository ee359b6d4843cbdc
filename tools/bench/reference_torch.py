#!/usr/bin/env python3
"""PyTorch reference for `npm run bench`: the same work as difflab, case by case.

Run with Debian's python3-torch (`/usr/bin/python3`). Each invocation runs one case and prints
one JSON line: {"case", "ms": [per-repeat medians], "peak_rss_mb", "threads", ...}.

The models are layer for layer the ones of @difflab/models (see docs/image-models.md and the
MLP of tiny-diffusion, which difflab's `mlp` plugin reproduces): sinusoidal input features
(scale 25, 128 per coordinate), a sinusoidal time embedding (128), Linear(384, 128) + GELU,
3 residual blocks x + GELU(Linear(x)), Linear(128, 2); torch's default init. The training step
is difflab's Trainer step: batch drawn from the fixed data set, t ~ U{0..T-1}, eps ~ N(0, I),
epsilon MSE, clip_grad_norm_(1.0), AdamW(lr 1e-3, weight_decay 0.01), EMA of the weights (0.995).
"""
import argparse
import json
import math
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# The device every tensor is made on (--device cpu | cuda); set once in main().
DEVICE = torch.device('cpu')


def swiss_roll(n, noise=0.5, scale=0.1, seed=0):
    # sklearn.datasets.make_swiss_roll, keeping (x, z), scaled 1/10 (difflab's swiss-roll).
    rng = np.random.default_rng(seed)
    t = 1.5 * np.pi * (1 + 2 * rng.random(n))
    x = t * np.cos(t)
    z = t * np.sin(t)
    pts = np.stack([x, z], 1) + noise * rng.standard_normal((n, 2))
    return torch.tensor(pts * scale, dtype=torch.float32)


def sinusoidal(x, size, scale=1.0):
    # tiny-diffusion's SinusoidalEmbedding == diffusers get_timestep_embedding(shift=1).
    x = x * scale
    half = size // 2
    emb = math.log(10000.0) / (half - 1)
    emb = torch.exp(-emb * torch.arange(half, dtype=torch.float32))
    emb = x.unsqueeze(-1) * emb.unsqueeze(0)
    return torch.cat((torch.sin(emb), torch.cos(emb)), dim=-1)


class Block(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.ff = nn.Linear(size, size)
        self.act = nn.GELU()

    def forward(self, x):
        return x + self.act(self.ff(x))


class MLP(nn.Module):
    def __init__(self, hidden=128, blocks=3, emb=128):
        super().__init__()
        layers = [nn.Linear(3 * emb, hidden), nn.GELU()]
        layers += [Block(hidden) for _ in range(blocks)]
        layers.append(nn.Linear(hidden, 2))
        self.net = nn.Sequential(*layers)
        self.emb = emb

    def forward(self, x, t):
        f = torch.cat([sinusoidal(x[:, 0], self.emb, 25.0), sinusoidal(x[:, 1], self.emb, 25.0), sinusoidal(t.float(), self.emb)], -1)
        return self.net(f)


def linear_alphas_cumprod(T, b0, b1):
    betas = torch.linspace(b0, b1, T, dtype=torch.float32)
    return torch.cumprod(1.0 - betas, 0)


class Ema:
    def __init__(self, params, decay=0.995):
        self.params = list(params)
        self.shadow = [p.detach().clone() for p in self.params]
        self.decay = decay
        self.step = 0

    @torch.no_grad()
    def update(self):
        self.step += 1
        # diffusers EMAModel.get_decay with the default warm-up: (1 + step) / (10 + step), capped.
        d = min(self.decay, (1 + self.step) / (10 + self.step))
        torch._foreach_mul_(self.shadow, d)
        torch._foreach_add_(self.shadow, [p.detach() for p in self.params], alpha=1 - d)


# difflab's spiral data, when the bench passes --data (written by the case runner's `spiral-data`):
# {'data', 'ref', 'directions', 'floor'}; then both sides train on the same points and measure the
# same sliced W2.
SPIRAL_DATA = None


def spiral_points(key, seed):
    if SPIRAL_DATA is not None:
        return torch.tensor(SPIRAL_DATA[key], dtype=torch.float32).reshape(-1, 2)
    return swiss_roll(10000, seed=seed)


def spiral_trainer(batch, T=50, b1=0.2, seed=0):
    torch.manual_seed(seed)
    data = spiral_points('data', 0)
    model = MLP()
    abar = linear_alphas_cumprod(T, 1e-4, b1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    ema = Ema(model.parameters())

    def step():
        idx = torch.randint(0, data.shape[0], (batch,))
        x0 = data[idx]
        t = torch.randint(0, T, (batch,))
        eps = torch.randn_like(x0)
        a = abar[t].unsqueeze(1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        loss = F.mse_loss(model(xt, t), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema.update()
        return loss

    step.ema = ema
    return model, abar, data, step


def sync():
    # CUDA runs asynchronously: a timing ends when the device has finished the work queued.
    if DEVICE.type == 'cuda':
        torch.cuda.synchronize()


def timed(fn, warmup, iters, repeats):
    for _ in range(warmup):
        fn()
    sync()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        sync()
        out.append((time.perf_counter() - t0) * 1000 / iters)
    return out


@torch.no_grad()
def ddpm_sample(model, abar, n, steps=None, clip=2.0, eta_ddim=None):
    """DDPM ancestral (fixed_small, clip x0) over all T, or DDIM eta=0 with `steps` (leading)."""
    T = abar.shape[0]
    x = torch.randn(n, 2)
    if steps is None:
        ts = list(range(T - 1, -1, -1))
    else:
        ratio = T // steps
        ts = [i * ratio for i in range(steps)][::-1]
    for i, t in enumerate(ts):
        tt = torch.full((n,), t, dtype=torch.long)
        eps = model(x, tt)
        a = abar[t]
        prev_t = ts[i + 1] if i + 1 < len(ts) else -1
        a_prev = abar[prev_t] if prev_t >= 0 else torch.tensor(1.0)
        x0 = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-clip, clip)
        if steps is None:
            beta = 1 - a / a_prev
            mean = (a_prev.sqrt() * beta / (1 - a)) * x0 + ((1 - beta).sqrt() * (1 - a_prev) / (1 - a)) * x
            if t > 0:
                var = (1 - a_prev) / (1 - a) * beta
                x = mean + var.clamp(min=1e-20).sqrt() * torch.randn_like(x)
            else:
                x = mean
        else:
            eps_c = (x - a.sqrt() * x0) / (1 - a).sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps_c
    return x


def sliced_w2(a, b, projections=256, seed=0):
    if SPIRAL_DATA is not None:
        # difflab's directions ([P, 2] row-major), so both sides compute one metric.
        d = torch.tensor(SPIRAL_DATA['directions'], dtype=torch.float32).reshape(-1, a.shape[1]).T.contiguous().to(a.device)
    else:
        g = torch.Generator().manual_seed(seed)
        d = torch.randn(a.shape[1], projections, generator=g, device='cpu').to(a.device)
        d = d / d.norm(dim=0, keepdim=True)
    pa, _ = torch.sort(a @ d, 0)
    pb, _ = torch.sort(b @ d, 0)
    return float(((pa - pb) ** 2).mean().sqrt())


# ---- image models (docs/image-models.md) --------------------------------------------------

def timestep_embedding(t, dim=128):
    # diffusers get_timestep_embedding(flip_sin_to_cos=True, downscale_freq_shift=0)
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32) / half
    emb = t.float()[:, None] * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(emb), torch.sin(emb)], -1)


class TimeMLP(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.l1 = nn.Linear(128, 4 * w)
        self.l2 = nn.Linear(4 * w, 4 * w)

    def forward(self, t):
        return self.l2(F.silu(self.l1(timestep_embedding(t))))


def sincos_2d(w, gh, gw):
    # MAE get_2d_sincos_pos_embed: half the dims for each axis, first half from the column (w) grid.
    def one(d, pos):
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.einsum('m,d->md', pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], 1)
    gy, gx = np.meshgrid(np.arange(gh, dtype=np.float32), np.arange(gw, dtype=np.float32), indexing='ij')
    emb = np.concatenate([one(w // 2, gx), one(w // 2, gy)], 1)
    return torch.tensor(emb, dtype=torch.float32)


class TBlock(nn.Module):
    def __init__(self, w, heads, ratio):
        super().__init__()
        self.ln1 = nn.LayerNorm(w)
        self.qkv = nn.Linear(w, 3 * w)
        self.proj = nn.Linear(w, w)
        self.ln2 = nn.LayerNorm(w)
        self.fc1 = nn.Linear(w, ratio * w)
        self.fc2 = nn.Linear(ratio * w, w)
        self.heads = heads

    def forward(self, x):
        B, N, C = x.shape
        h = self.heads
        qkv = self.qkv(self.ln1(x)).reshape(B, N, 3, h, C // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(C // h), -1)
        y = (att @ v).transpose(1, 2).reshape(B, N, C)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class PatchTransformer(nn.Module):
    def __init__(self, size=28, ch=1, patch=4, width=128, depth=4, heads=4, ratio=4):
        super().__init__()
        self.p, self.ch, self.size = patch, ch, size
        self.embed = nn.Linear(patch * patch * ch, width)
        self.register_buffer('pos', sincos_2d(width, size // patch, size // patch))
        self.time = TimeMLP(width)
        self.tproj = nn.Linear(4 * width, width)
        self.blocks = nn.ModuleList([TBlock(width, heads, ratio) for _ in range(depth)])
        self.ln = nn.LayerNorm(width)
        self.out = nn.Linear(width, patch * patch * ch)

    def forward(self, x, t):  # x NCHW
        B, C, H, W = x.shape
        p = self.p
        tok = x.permute(0, 2, 3, 1).reshape(B, H // p, p, W // p, p, C).permute(0, 1, 3, 2, 4, 5).reshape(B, (H // p) * (W // p), p * p * C)
        h = self.embed(tok) + self.pos[None] + self.tproj(F.silu(self.time(t)))[:, None, :]
        for b in self.blocks:
            h = b(h)
        o = self.out(self.ln(h)).reshape(B, H // p, W // p, p, p, C).permute(0, 1, 3, 2, 4, 5).reshape(B, H, W, C)
        return o.permute(0, 3, 1, 2)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim, groups=8):
        super().__init__()
        self.n1 = nn.GroupNorm(groups, cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(tdim, cout)
        self.n2 = nn.GroupNorm(groups, cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.c1(F.silu(self.n1(x)))
        h = h + self.t(F.silu(temb))[:, :, None, None]
        h = self.c2(F.silu(self.n2(h)))
        return h + (self.skip(x) if self.skip is not None else x)


class Attn(nn.Module):
    def __init__(self, c, groups=8):
        super().__init__()
        self.n = nn.GroupNorm(groups, c)
        self.qkv = nn.Linear(c, 3 * c)
        self.proj = nn.Linear(c, c)

    def forward(self, x):
        B, C, H, W = x.shape
        h = self.n(x).permute(0, 2, 3, 1).reshape(B, H * W, C)
        q, k, v = self.qkv(h).chunk(3, -1)
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(C), -1)
        y = self.proj(a @ v).reshape(B, H, W, C).permute(0, 3, 1, 2)
        return x + y


class UNet(nn.Module):
    def __init__(self, ch=1, c0=32, c1=64, groups=8):
        super().__init__()
        td = 4 * c0
        self.time = TimeMLP(c0)
        self.cin = nn.Conv2d(ch, c0, 3, padding=1)
        self.d0 = ResBlock(c0, c0, td, groups)
        self.down0 = nn.Conv2d(c0, c0, 3, stride=2, padding=1)
        self.d1 = ResBlock(c0, c1, td, groups)
        self.down1 = nn.Conv2d(c1, c1, 3, stride=2, padding=1)
        self.m1 = ResBlock(c1, c1, td, groups)
        self.attn = Attn(c1, groups)
        self.m2 = ResBlock(c1, c1, td, groups)
        self.up1 = nn.Conv2d(c1, c1, 3, padding=1)
        self.u1 = ResBlock(2 * c1, c1, td, groups)
        self.up0 = nn.Conv2d(c1, c1, 3, padding=1)
        self.u0 = ResBlock(c1 + c0, c0, td, groups)
        self.nout = nn.GroupNorm(groups, c0)
        self.cout = nn.Conv2d(c0, ch, 3, padding=1)

    def forward(self, x, t):
        temb = self.time(t)
        h = self.cin(x)
        s0 = self.d0(h, temb)
        s1 = self.d1(self.down0(s0), temb)
        h = self.down1(s1)
        h = self.m2(self.attn(self.m1(h, temb)), temb)
        h = self.up1(F.interpolate(h, scale_factor=2, mode='nearest'))
        h = self.u1(torch.cat([h, s1], 1), temb)
        h = self.up0(F.interpolate(h, scale_factor=2, mode='nearest'))
        h = self.u0(torch.cat([h, s0], 1), temb)
        return self.cout(F.silu(self.nout(h)))


def image_trainer(kind, batch=64):
    torch.manual_seed(0)
    if kind == 'patch-transformer':
        model, shape = PatchTransformer(), (1, 28, 28)
    else:
        model, shape = UNet(), (1, 32, 32)
    data = torch.rand(512, *shape) * 2 - 1
    abar = linear_alphas_cumprod(1000, 1e-4, 0.02)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        x0 = data[torch.randint(0, data.shape[0], (batch,))]
        t = torch.randint(0, 1000, (batch,))
        eps = torch.randn_like(x0)
        a = abar[t].view(-1, 1, 1, 1)
        loss = F.mse_loss(model(a.sqrt() * x0 + (1 - a).sqrt() * eps, t), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return model, abar, shape, step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('case')
    ap.add_argument('--batch', type=int, default=256)
    ap.add_argument('--iters', type=int, default=50)
    ap.add_argument('--warmup', type=int, default=10)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--target', type=float, default=3.0)
    ap.add_argument('--max-steps', type=int, default=20000)
    ap.add_argument('--data', default=None, help="difflab's spiral data (JSON from the case runner's spiral-data)")
    a = ap.parse_args()
    if a.data:
        global SPIRAL_DATA
        with open(a.data) as f:
            SPIRAL_DATA = json.load(f)
    torch.set_num_threads(a.threads)
    global DEVICE
    DEVICE = torch.device(a.device)
    if DEVICE.type != 'cpu':
        if not hasattr(torch, 'set_default_device'):
            print(json.dumps({'case': a.case, 'error': f'--device {a.device} needs torch >= 2.0 (set_default_device)'}))
            sys.exit(2)
        # Every tensor the cases make (data, models, noise) is made on this device.
        torch.set_default_device(DEVICE)
    res = {'case': a.case, 'threads': torch.get_num_threads(), 'torch': torch.__version__, 'device': str(DEVICE)}
    if DEVICE.type == 'cuda':
        res['device_name'] = torch.cuda.get_device_name(DEVICE)
    if a.case == 'spiral-train':
        _, _, _, step = spiral_trainer(a.batch)
        res['ms'] = timed(step, a.warmup, a.iters, a.repeats)
    elif a.case in ('spiral-sample-ddpm', 'spiral-sample-ddim20'):
        model, abar, _, step = spiral_trainer(256)
        steps = None if a.case.endswith('ddpm') else 20
        res['ms'] = timed(lambda: ddpm_sample(model, abar, 10000, steps), 1, 1, a.repeats)
    elif a.case == 'spiral-time-to-quality':
        model, abar, data, step = spiral_trainer(256)
        ema = step.ema
        ref_b = spiral_points('ref', 1000)
        floor = sliced_w2(ref_b, data)
        res['floor'] = floor
        t0 = time.perf_counter()
        trained = 0
        ratio = float('inf')
        train_s = 0.0
        while trained < a.max_steps:
            s0 = time.perf_counter()
            for _ in range(500):
                step()
            train_s += time.perf_counter() - s0
            trained += 500
            # Sample with the EMA weights, as difflab does (swap them in, then back).
            live = [p.detach().clone() for p in model.parameters()]
            with torch.no_grad():
                for p, e in zip(model.parameters(), ema.shadow):
                    p.copy_(e)
            ratio = sliced_w2(ddpm_sample(model, abar, 10000), data) / floor
            with torch.no_grad():
                for p, l in zip(model.parameters(), live):
                    p.copy_(l)
            if ratio <= a.target:
                break
        res.update({'seconds_total': time.perf_counter() - t0, 'seconds_train': train_s, 'steps': trained, 'ratio': ratio, 'ms': [train_s * 1000]})
    elif a.case == 'spiral-memory':
        # 10,000 training steps (batch 256); peak RSS after the first 1,000 and at the end.
        _, _, _, step = spiral_trainer(a.batch)
        rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        for _ in range(1000):
            step()
        rss_1k = rss()
        for _ in range(a.iters - 1000):
            step()
        res.update({'ms': [(time.perf_counter() - t0) * 1000 / a.iters], 'rss_1k_mb': rss_1k, 'rss_end_mb': rss(), 'rss_growth_mb': rss() - rss_1k})
    elif a.case == 'gemm':
        # Raw float32 matrix products of the models' shapes: [m, k] @ [k, n] (and GFLOP/s).
        shapes = [(256, 384, 128), (3136, 128, 512), (3136, 512, 128)]
        mats = [(torch.randn(m, k), torch.randn(k, n)) for m, k, n in shapes]
        def run():
            for x, y in mats:
                torch.mm(x, y)
        res['ms'] = timed(run, a.warmup, a.iters, a.repeats)
        flops = sum(2 * m * k * n for m, k, n in shapes)
        res['gflops'] = flops / (min(res['ms']) * 1e6)
    elif a.case in ('image-train-patch-transformer', 'image-train-unet'):
        kind = a.case[len('image-train-'):]
        _, _, _, step = image_trainer(kind, a.batch)
        res['ms'] = timed(step, a.warmup, a.iters, a.repeats)
    elif a.case == 'image-sample-unet':
        model, abar, shape, _ = image_trainer('unet')

        @torch.no_grad()
        def sample():
            x = torch.randn(16, *shape)
            ratio = 1000 // 50
            ts = [i * ratio for i in range(50)][::-1]
            for i, t in enumerate(ts):
                eps = model(x, torch.full((16,), t, dtype=torch.long))
                at = abar[t]
                ap_ = abar[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0)
                x0 = (x - (1 - at).sqrt() * eps) / at.sqrt()
                x = ap_.sqrt() * x0 + (1 - ap_).sqrt() * eps
            return x

        res['ms'] = timed(sample, 1, 1, a.repeats)
    else:
        print(json.dumps({'case': a.case, 'error': 'unknown case'}))
        sys.exit(2)
    res['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if DEVICE.type == 'cuda':
        res['peak_gpu_mb'] = torch.cuda.max_memory_allocated(DEVICE) / 2**20
    print(json.dumps(res))


if __name__ == '__main__':
    main()
