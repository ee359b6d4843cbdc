#!/usr/bin/python3
"""Independent PyTorch reference for @difflab/schedulers and @difflab/samplers.

Re-implements, in torch float32 exactly as diffusers computes them, the parts of diffusers'
`DDPMScheduler` and `DDIMScheduler` that difflab reproduces (diffusers itself is not installed
here), and writes JSON fixtures the Vitest suites compare against:

  packages/schedulers/src/__fixtures__/diffusers-schedules.json
  packages/samplers/src/__fixtures__/diffusers-loops.json

Run:  /usr/bin/python3 tools/reference/diffusers_reference.py   (deterministic, a few seconds)

Sources followed (diffusers main; the same code is in the fork ChrisColeTech/diffusers@725959a
and, for DDIM, a-r-r-o-w/diffusers@0fe9180, read through the code search):
  src/diffusers/schedulers/scheduling_ddpm.py  -- betas_for_alpha_bar, rescale_zero_terminal_snr,
      DDPMScheduler.__init__ / set_timesteps / _get_variance / step / previous_timestep
  src/diffusers/schedulers/scheduling_ddim.py  -- DDIMScheduler.__init__ / _get_variance / step
  tests/schedulers/test_schedulers.py          -- dummy_model: `sample * t / (t + 1)`
Every diffusers line reproduced below is quoted in a comment beside it.

All floats are written with float(x) of the float32 (or float64) value: Python's repr is the
shortest decimal that round-trips, so JSON.parse gives back exactly the same number.
"""

import json
import math
import os
import sys

import numpy as np
import torch

torch.set_num_threads(1)  # one thread: reductions / vector paths never depend on the thread count

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
SCHEDULES_OUT = os.path.join(ROOT, 'packages', 'schedulers', 'src', '__fixtures__', 'diffusers-schedules.json')
LOOPS_OUT = os.path.join(ROOT, 'packages', 'samplers', 'src', '__fixtures__', 'diffusers-loops.json')


# --------------------------------------------------------------------------------------------
# Schedules (scheduling_ddpm.py / scheduling_ddim.py, identical in both)
# --------------------------------------------------------------------------------------------

def betas_for_alpha_bar(num_diffusion_timesteps, max_beta=0.999):
    """diffusers `betas_for_alpha_bar(..., alpha_transform_type="cosine")`: float64 Python math, then
    `return torch.tensor(betas, dtype=torch.float32)`."""

    def alpha_bar_fn(t):
        # `return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2`
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = []
    for i in range(num_diffusion_timesteps):
        t1 = i / num_diffusion_timesteps
        t2 = (i + 1) / num_diffusion_timesteps
        # `betas.append(min(1 - alpha_bar_fn(t2) / alpha_bar_fn(t1), max_beta))`
        betas.append(min(1 - alpha_bar_fn(t2) / alpha_bar_fn(t1), max_beta))
    return torch.tensor(betas, dtype=torch.float32)


def rescale_zero_terminal_snr(betas):
    """diffusers `rescale_zero_terminal_snr` (Lin et al. 2024, alg. 1), torch float32."""
    alphas = 1.0 - betas  # `alphas = 1.0 - betas`
    alphas_cumprod = torch.cumprod(alphas, dim=0)  # `alphas_cumprod = torch.cumprod(alphas, dim=0)`
    alphas_bar_sqrt = alphas_cumprod.sqrt()  # `alphas_bar_sqrt = alphas_cumprod.sqrt()`
    alphas_bar_sqrt_0 = alphas_bar_sqrt[0].clone()  # `alphas_bar_sqrt_0 = alphas_bar_sqrt[0].clone()`
    alphas_bar_sqrt_T = alphas_bar_sqrt[-1].clone()  # `alphas_bar_sqrt_T = alphas_bar_sqrt[-1].clone()`
    alphas_bar_sqrt -= alphas_bar_sqrt_T  # `alphas_bar_sqrt -= alphas_bar_sqrt_T`
    # `alphas_bar_sqrt *= alphas_bar_sqrt_0 / (alphas_bar_sqrt_0 - alphas_bar_sqrt_T)`
    alphas_bar_sqrt *= alphas_bar_sqrt_0 / (alphas_bar_sqrt_0 - alphas_bar_sqrt_T)
    alphas_bar = alphas_bar_sqrt ** 2  # `alphas_bar = alphas_bar_sqrt**2  # Revert sqrt`
    alphas = alphas_bar[1:] / alphas_bar[:-1]  # `alphas = alphas_bar[1:] / alphas_bar[:-1]  # Revert cumprod`
    alphas = torch.cat([alphas_bar[0:1], alphas])  # `alphas = torch.cat([alphas_bar[0:1], alphas])`
    betas = 1 - alphas  # `betas = 1 - alphas`
    return betas


def make_betas(cfg):
    """DDPMScheduler.__init__ beta construction."""
    T = cfg['num_train_timesteps']
    kind = cfg['beta_schedule']
    b0, b1 = cfg['beta_start'], cfg['beta_end']
    if kind == 'linear':
        # `self.betas = torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float32)`
        betas = torch.linspace(b0, b1, T, dtype=torch.float32)
    elif kind == 'scaled_linear':
        # `self.betas = torch.linspace(beta_start**0.5, beta_end**0.5, num_train_timesteps, dtype=torch.float32) ** 2`
        betas = torch.linspace(b0 ** 0.5, b1 ** 0.5, T, dtype=torch.float32) ** 2
    elif kind == 'squaredcos_cap_v2':
        # `self.betas = betas_for_alpha_bar(num_train_timesteps)`
        betas = betas_for_alpha_bar(T)
    elif kind == 'sigmoid':
        # `betas = torch.linspace(-6, 6, num_train_timesteps)`
        # `self.betas = torch.sigmoid(betas) * (beta_end - beta_start) + beta_start`
        betas = torch.linspace(-6, 6, T)
        betas = torch.sigmoid(betas) * (b1 - b0) + b0
    else:
        raise ValueError(kind)
    if cfg.get('rescale_betas_zero_snr', False):
        # `if rescale_betas_zero_snr: self.betas = rescale_zero_terminal_snr(self.betas)`
        betas = rescale_zero_terminal_snr(betas)
    assert betas.dtype == torch.float32
    return betas


class Tables:
    def __init__(self, cfg):
        self.betas = make_betas(cfg)
        self.alphas = 1.0 - self.betas  # `self.alphas = 1.0 - self.betas`
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)  # `self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)`
        self.one = torch.tensor(1.0)  # `self.one = torch.tensor(1.0)`


def set_timesteps(T, n, spacing, steps_offset):
    """DDPMScheduler.set_timesteps / DDIMScheduler.set_timesteps (same code), numpy."""
    if spacing == 'linspace':
        # `np.linspace(0, self.config.num_train_timesteps - 1, num_inference_steps).round()[::-1].copy().astype(np.int64)`
        ts = np.linspace(0, T - 1, n).round()[::-1].copy().astype(np.int64)
    elif spacing == 'leading':
        step_ratio = T // n  # `step_ratio = self.config.num_train_timesteps // self.num_inference_steps`
        # `timesteps = (np.arange(0, num_inference_steps) * step_ratio).round()[::-1].copy().astype(np.int64)`
        ts = (np.arange(0, n) * step_ratio).round()[::-1].copy().astype(np.int64)
        ts += steps_offset  # `timesteps += self.config.steps_offset`
    elif spacing == 'trailing':
        step_ratio = T / n  # `step_ratio = self.config.num_train_timesteps / self.num_inference_steps`
        # `timesteps = np.round(np.arange(self.config.num_train_timesteps, 0, -step_ratio)).astype(np.int64)`
        ts = np.round(np.arange(T, 0, -step_ratio)).astype(np.int64)
        ts -= 1  # `timesteps -= 1`
    else:
        raise ValueError(spacing)
    return [int(v) for v in ts]


def f32list(t):
    return [float(v) for v in t.to(torch.float32).tolist()]


# --------------------------------------------------------------------------------------------
# Samplers
# --------------------------------------------------------------------------------------------

def dummy_model(sample, t, negate=False):
    """diffusers tests/schedulers/test_schedulers.py `dummy_model`:
    `t = t.reshape(-1, *(1,) * (num_dims - 1)).to(sample.device).to(sample.dtype)`
    `return sample * t / (t + 1)`  (t cast to the sample dtype; float32 here).
    With negate=True the output is negated (exact in float32): an eps estimate pointing the wrong
    way, so that the predicted x_0 leaves [-1, 1] and clip_sample has something to clip."""
    tt = torch.tensor(float(t), dtype=sample.dtype)
    out = sample * tt / (tt + 1)
    return -out if negate else out


class DDPM:
    """DDPMScheduler.step for variance_type fixed_small / fixed_large (diffusers main)."""

    def __init__(self, tab, cfg, timesteps, dtype):
        self.cfg = cfg
        self.ac = tab.alphas_cumprod.to(dtype)
        self.one = tab.one.to(dtype)
        self.timesteps = timesteps
        self.num_inference_steps = len(timesteps)

    def previous_timestep(self, timestep):
        # `if self.custom_timesteps or self.num_inference_steps:`
        #     `index = (self.timesteps == timestep).nonzero(as_tuple=True)[0][0]`
        #     `if index == self.timesteps.shape[0] - 1: prev_t = torch.tensor(-1)`
        #     `else: prev_t = self.timesteps[index + 1]`
        # `else: prev_t = timestep - 1`
        i = self.timesteps.index(timestep)
        return -1 if i == len(self.timesteps) - 1 else self.timesteps[i + 1]

    def _get_variance(self, t):
        prev_t = self.previous_timestep(t)  # `prev_t = self.previous_timestep(t)`
        alpha_prod_t = self.ac[t]  # `alpha_prod_t = self.alphas_cumprod[t]`
        # `alpha_prod_t_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.one`
        alpha_prod_t_prev = self.ac[prev_t] if prev_t >= 0 else self.one
        current_beta_t = 1 - alpha_prod_t / alpha_prod_t_prev  # `current_beta_t = 1 - alpha_prod_t / alpha_prod_t_prev`
        # `variance = (1 - alpha_prod_t_prev) / (1 - alpha_prod_t) * current_beta_t`
        variance = (1 - alpha_prod_t_prev) / (1 - alpha_prod_t) * current_beta_t
        variance = torch.clamp(variance, min=1e-20)  # `variance = torch.clamp(variance, min=1e-20)`
        if self.cfg['variance_type'] == 'fixed_small':
            variance = variance  # `if variance_type == "fixed_small": variance = variance`
        elif self.cfg['variance_type'] == 'fixed_large':
            variance = current_beta_t  # `elif variance_type == "fixed_large": variance = current_beta_t`
        else:
            raise ValueError(self.cfg['variance_type'])
        return variance

    def step(self, model_output, t, sample, noise, opts):
        cfg = self.cfg
        prev_t = self.previous_timestep(t)  # `prev_t = self.previous_timestep(t)`
        # 1. compute alphas, betas
        alpha_prod_t = self.ac[t]  # `alpha_prod_t = self.alphas_cumprod[t]`
        # `alpha_prod_t_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.one`
        alpha_prod_t_prev = self.ac[prev_t] if prev_t >= 0 else self.one
        beta_prod_t = 1 - alpha_prod_t  # `beta_prod_t = 1 - alpha_prod_t`
        beta_prod_t_prev = 1 - alpha_prod_t_prev  # `beta_prod_t_prev = 1 - alpha_prod_t_prev`
        current_alpha_t = alpha_prod_t / alpha_prod_t_prev  # `current_alpha_t = alpha_prod_t / alpha_prod_t_prev`
        current_beta_t = 1 - current_alpha_t  # `current_beta_t = 1 - current_alpha_t`
        # 2. predicted x_0
        if cfg['prediction_type'] == 'epsilon':
            # `pred_original_sample = (sample - beta_prod_t ** (0.5) * model_output) / alpha_prod_t ** (0.5)`
            pred_original_sample = (sample - beta_prod_t ** (0.5) * model_output) / alpha_prod_t ** (0.5)
        elif cfg['prediction_type'] == 'v_prediction':
            # `pred_original_sample = (alpha_prod_t**0.5) * sample - (beta_prod_t**0.5) * model_output`
            pred_original_sample = (alpha_prod_t ** 0.5) * sample - (beta_prod_t ** 0.5) * model_output
        else:
            raise ValueError(cfg['prediction_type'])
        unclipped = pred_original_sample
        # 3. `elif self.config.clip_sample: pred_original_sample = pred_original_sample.clamp(-self.config.clip_sample_range, self.config.clip_sample_range)`
        if cfg['clip_sample']:
            pred_original_sample = pred_original_sample.clamp(-cfg['clip_sample_range'], cfg['clip_sample_range'])
        # 4. `pred_original_sample_coeff = (alpha_prod_t_prev ** (0.5) * current_beta_t) / beta_prod_t`
        pred_original_sample_coeff = (alpha_prod_t_prev ** (0.5) * current_beta_t) / beta_prod_t
        # `current_sample_coeff = current_alpha_t ** (0.5) * beta_prod_t_prev / beta_prod_t`
        current_sample_coeff = current_alpha_t ** (0.5) * beta_prod_t_prev / beta_prod_t
        # 5. `pred_prev_sample = pred_original_sample_coeff * pred_original_sample + current_sample_coeff * sample`
        pred_prev_sample = pred_original_sample_coeff * pred_original_sample + current_sample_coeff * sample
        # 6. `variance = 0` / `if t > 0:` ... `variance = (self._get_variance(t, ...) ** 0.5) * variance_noise`
        variance = 0
        if t > 0:
            variance = (self._get_variance(t) ** 0.5) * noise
        pred_prev_sample = pred_prev_sample + variance  # `pred_prev_sample = pred_prev_sample + variance`
        return pred_prev_sample, pred_original_sample, unclipped


class DDIM:
    """DDIMScheduler.step (diffusers main)."""

    def __init__(self, tab, cfg, timesteps, dtype):
        self.cfg = cfg
        self.ac = tab.alphas_cumprod.to(dtype)
        # `self.final_alpha_cumprod = torch.tensor(1.0) if set_alpha_to_one else self.alphas_cumprod[0]`
        self.final_alpha_cumprod = (torch.tensor(1.0) if cfg['set_alpha_to_one'] else tab.alphas_cumprod[0]).to(dtype)
        self.T = cfg['num_train_timesteps']
        self.timesteps = timesteps
        self.num_inference_steps = len(timesteps)

    def _get_variance(self, timestep, prev_timestep):
        alpha_prod_t = self.ac[timestep]  # `alpha_prod_t = self.alphas_cumprod[timestep]`
        # `alpha_prod_t_prev = self.alphas_cumprod[prev_timestep] if prev_timestep >= 0 else self.final_alpha_cumprod`
        alpha_prod_t_prev = self.ac[prev_timestep] if prev_timestep >= 0 else self.final_alpha_cumprod
        beta_prod_t = 1 - alpha_prod_t  # `beta_prod_t = 1 - alpha_prod_t`
        beta_prod_t_prev = 1 - alpha_prod_t_prev  # `beta_prod_t_prev = 1 - alpha_prod_t_prev`
        # `variance = (beta_prod_t_prev / beta_prod_t) * (1 - alpha_prod_t / alpha_prod_t_prev)`
        return (beta_prod_t_prev / beta_prod_t) * (1 - alpha_prod_t / alpha_prod_t_prev)

    def step(self, model_output, timestep, sample, noise, opts):
        cfg = self.cfg
        eta = opts['eta']
        # 1. `prev_timestep = timestep - self.config.num_train_timesteps // self.num_inference_steps`
        prev_timestep = timestep - self.T // self.num_inference_steps
        # 2. `alpha_prod_t = self.alphas_cumprod[timestep]`
        alpha_prod_t = self.ac[timestep]
        # `alpha_prod_t_prev = self.alphas_cumprod[prev_timestep] if prev_timestep >= 0 else self.final_alpha_cumprod`
        alpha_prod_t_prev = self.ac[prev_timestep] if prev_timestep >= 0 else self.final_alpha_cumprod
        beta_prod_t = 1 - alpha_prod_t  # `beta_prod_t = 1 - alpha_prod_t`
        # 3. predicted x_0 and eps
        if cfg['prediction_type'] == 'epsilon':
            # `pred_original_sample = (sample - beta_prod_t ** (0.5) * model_output) / alpha_prod_t ** (0.5)`
            pred_original_sample = (sample - beta_prod_t ** (0.5) * model_output) / alpha_prod_t ** (0.5)
            pred_epsilon = model_output  # `pred_epsilon = model_output`
        elif cfg['prediction_type'] == 'v_prediction':
            # `pred_original_sample = (alpha_prod_t**0.5) * sample - (beta_prod_t**0.5) * model_output`
            pred_original_sample = (alpha_prod_t ** 0.5) * sample - (beta_prod_t ** 0.5) * model_output
            # `pred_epsilon = (alpha_prod_t**0.5) * model_output + (beta_prod_t**0.5) * sample`
            pred_epsilon = (alpha_prod_t ** 0.5) * model_output + (beta_prod_t ** 0.5) * sample
        else:
            raise ValueError(cfg['prediction_type'])
        unclipped = pred_original_sample
        # 4. `elif self.config.clip_sample: pred_original_sample = pred_original_sample.clamp(-self.config.clip_sample_range, self.config.clip_sample_range)`
        if cfg['clip_sample']:
            pred_original_sample = pred_original_sample.clamp(-cfg['clip_sample_range'], cfg['clip_sample_range'])
        # 5. `variance = self._get_variance(timestep, prev_timestep)` / `std_dev_t = eta * variance ** (0.5)`
        variance = self._get_variance(timestep, prev_timestep)
        std_dev_t = eta * variance ** (0.5)
        if opts['use_clipped_model_output']:
            # `pred_epsilon = (sample - alpha_prod_t ** (0.5) * pred_original_sample) / beta_prod_t ** (0.5)`
            pred_epsilon = (sample - alpha_prod_t ** (0.5) * pred_original_sample) / beta_prod_t ** (0.5)
        # 6. `pred_sample_direction = (1 - alpha_prod_t_prev - std_dev_t**2) ** (0.5) * pred_epsilon`
        pred_sample_direction = (1 - alpha_prod_t_prev - std_dev_t ** 2) ** (0.5) * pred_epsilon
        # 7. `prev_sample = alpha_prod_t_prev ** (0.5) * pred_original_sample + pred_sample_direction`
        prev_sample = alpha_prod_t_prev ** (0.5) * pred_original_sample + pred_sample_direction
        if eta > 0:
            # `variance = std_dev_t * variance_noise` / `prev_sample = prev_sample + variance`
            prev_sample = prev_sample + std_dev_t * noise
        return prev_sample, pred_original_sample, unclipped


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------

SCHEDULE_CASES = [
    ('linear-1000', dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule='linear')),
    ('linear-spiral-50', dict(num_train_timesteps=50, beta_start=0.0001, beta_end=0.2, beta_schedule='linear')),
    ('scaled-linear-1000', dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule='scaled_linear')),
    ('cosine-1000', dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule='squaredcos_cap_v2')),
    ('cosine-40', dict(num_train_timesteps=40, beta_start=0.0001, beta_end=0.02, beta_schedule='squaredcos_cap_v2')),
    ('sigmoid-1000', dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule='sigmoid')),
    (
        'scaled-linear-1000-zero-snr',
        dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule='scaled_linear', rescale_betas_zero_snr=True),
    ),
]

TIMESTEP_CASES = []
for _T, _ns in ((1000, (1, 3, 7, 10, 50, 61, 100, 250, 999, 1000)), (50, (1, 3, 7, 10, 25, 29, 49, 50)), (40, (6, 13, 40))):
    for _n in _ns:
        for _spacing in ('leading', 'linspace', 'trailing'):
            for _off in ((0, 1) if _spacing == 'leading' else (0,)):
                if _spacing == 'leading' and (_n - 1) * (_T // _n) + _off > _T - 1:
                    continue  # diffusers would index past T - 1; difflab rejects these with a ConfigError
                TIMESTEP_CASES.append((_T, _n, _spacing, _off))


def schedules_fixture():
    schedules = []
    for name, cfg in SCHEDULE_CASES:
        full = dict(trained_betas=None, rescale_betas_zero_snr=False)
        full.update(cfg)
        tab = Tables(full)
        schedules.append(dict(name=name, config=full, betas=f32list(tab.betas), alphas_cumprod=f32list(tab.alphas_cumprod)))
    timesteps = []
    for T, n, spacing, off in TIMESTEP_CASES:
        ts = set_timesteps(T, n, spacing, off)
        timesteps.append(dict(T=T, n=n, spacing=spacing, steps_offset=off, timesteps=ts))
    return dict(
        generator='tools/reference/diffusers_reference.py',
        torch=torch.__version__,
        numpy=np.__version__,
        schedules=schedules,
        timesteps=timesteps,
    )


SHAPE = (4, 2)
# initial sample x_T: a fixed linspace-based [4, 2] tensor (like diffusers' dummy_sample_deter, but with
# values in [-3, 3] so that clip_sample actually clips some predicted x_0)
X_T = torch.linspace(-3.0, 3.0, 8, dtype=torch.float32).reshape(SHAPE)

LINEAR_1000 = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule='linear')
SPIRAL_50 = dict(num_train_timesteps=50, beta_start=0.0001, beta_end=0.2, beta_schedule='linear')
ZSNR_1000 = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule='scaled_linear', rescale_betas_zero_snr=True)


def ddpm_cfg(sched, variance_type='fixed_small', prediction_type='epsilon', clip_sample=True, spacing='leading', clip_range=1.0):
    c = dict(_class_name='DDPMScheduler', trained_betas=None, rescale_betas_zero_snr=False)
    c.update(sched)
    c.update(
        variance_type=variance_type,
        clip_sample=clip_sample,
        prediction_type=prediction_type,
        thresholding=False,
        clip_sample_range=clip_range,
        timestep_spacing=spacing,
        steps_offset=0,
    )
    return c


def ddim_cfg(sched, prediction_type='epsilon', clip_sample=True, spacing='leading', set_alpha_to_one=True, clip_range=1.0):
    c = dict(_class_name='DDIMScheduler', trained_betas=None, rescale_betas_zero_snr=False)
    c.update(sched)
    c.update(
        clip_sample=clip_sample,
        set_alpha_to_one=set_alpha_to_one,
        steps_offset=0,
        prediction_type=prediction_type,
        thresholding=False,
        clip_sample_range=clip_range,
        timestep_spacing=spacing,
    )
    return c


def loop_cases():
    cases = []
    for steps in (10, 50):
        for vt in ('fixed_small', 'fixed_large'):
            for pt in ('epsilon', 'v_prediction'):
                for clip in (True, False):
                    cases.append((f'ddpm-linear1000-{steps}-{vt}-{pt}-clip{int(clip)}', ddpm_cfg(LINEAR_1000, vt, pt, clip), steps, {}))
        for eta in (0.0, 0.5):
            for pt in ('epsilon', 'v_prediction'):
                for clip in (True, False):
                    cases.append((f'ddim-linear1000-{steps}-eta{eta}-{pt}-clip{int(clip)}', ddim_cfg(LINEAR_1000, pt, clip), steps, dict(eta=eta)))
    for vt in ('fixed_small', 'fixed_large'):
        for pt in ('epsilon', 'v_prediction'):
            for clip in (True, False):
                cases.append((f'ddpm-spiral50-50-{vt}-{pt}-clip{int(clip)}', ddpm_cfg(SPIRAL_50, vt, pt, clip, clip_range=2.0), 50, {}))
    for eta in (0.0, 0.5):
        for pt in ('epsilon', 'v_prediction'):
            for clip in (True, False):
                cases.append((f'ddim-spiral50-50-eta{eta}-{pt}-clip{int(clip)}', ddim_cfg(SPIRAL_50, pt, clip, clip_range=2.0), 50, dict(eta=eta)))
    # a few more diffusers options: trailing spacing (DDPM's previous_timestep walks the list), set_alpha_to_one=False,
    # use_clipped_model_output, and the zero-terminal-SNR recipe (scaled_linear + rescale + trailing + v_prediction)
    cases.append(('ddpm-linear1000-10-trailing', ddpm_cfg(LINEAR_1000, spacing='trailing'), 10, {}))
    cases.append(('ddpm-spiral50-7-linspace', ddpm_cfg(SPIRAL_50, spacing='linspace', clip_range=2.0), 7, {}))
    cases.append(('ddim-linear1000-10-trailing', ddim_cfg(LINEAR_1000, spacing='trailing'), 10, {}))
    cases.append(('ddim-linear1000-10-alpha0', ddim_cfg(LINEAR_1000, set_alpha_to_one=False), 10, {}))
    cases.append(('ddim-linear1000-10-eta1-clipped-eps', ddim_cfg(LINEAR_1000), 10, dict(eta=1.0, use_clipped_model_output=True)))
    cases.append(('ddim-zsnr-10-trailing-v', ddim_cfg(ZSNR_1000, 'v_prediction', False, 'trailing'), 10, {}))
    # the negated model drives the eps-predicted x_0 outside [-clip, clip], so clipping is exercised for epsilon too
    for clip in (True, False):
        cases.append((f'ddpm-linear1000-10-neg-clip{int(clip)}', ddpm_cfg(LINEAR_1000, clip_sample=clip), 10, dict(negate_model=True)))
        cases.append((f'ddpm-spiral50-50-neg-clip{int(clip)}', ddpm_cfg(SPIRAL_50, clip_sample=clip, clip_range=2.0), 50, dict(negate_model=True)))
        cases.append((f'ddim-spiral50-50-neg-clip{int(clip)}', ddim_cfg(SPIRAL_50, clip_sample=clip, clip_range=2.0), 50, dict(negate_model=True)))
    cases.append(('ddpm-zsnr-10-trailing-v', ddpm_cfg(ZSNR_1000, prediction_type='v_prediction', clip_sample=False, spacing='trailing'), 10, {}))
    return cases


def run_loop(cfg, steps, opts, noises, dtype):
    tab = Tables(cfg)
    ts = set_timesteps(cfg['num_train_timesteps'], steps, cfg['timestep_spacing'], cfg['steps_offset'])
    sched = (DDPM if cfg['_class_name'] == 'DDPMScheduler' else DDIM)(tab, cfg, ts, dtype)
    x = X_T.to(dtype)
    prevs, x0s = [], []
    clipped = 0
    for i, t in enumerate(ts):
        # diffusers' test loop: `residual = model(sample, t)` / `sample = scheduler.step(residual, t, sample, ...).prev_sample`
        out = dummy_model(x, t, opts['negate_model'])
        x, x0, raw = sched.step(out, t, x, noises[i].to(dtype) if noises is not None else None, opts)
        if cfg['clip_sample']:
            clipped += int((raw.abs() > cfg['clip_sample_range']).sum())
        prevs.append(x)
        x0s.append(x0)
    return ts, prevs, x0s, clipped


def mat(t):
    return [[float(v) for v in row] for row in t.tolist()]


def loops_fixture():
    out = []
    noise_sets = {}
    for name, cfg, steps, extra in loop_cases():
        opts = dict(
            eta=extra.get('eta', 0.0),
            use_clipped_model_output=extra.get('use_clipped_model_output', False),
            negate_model=extra.get('negate_model', False),
        )
        stochastic = cfg['_class_name'] == 'DDPMScheduler' or opts['eta'] > 0
        noises = None
        if stochastic:
            # one fixed N(0, I) tensor per step, fed to both sides (diffusers: `variance_noise`; difflab: StepOptions.noise)
            g = torch.Generator().manual_seed(1234 + steps)
            noises = [torch.randn(SHAPE, generator=g, dtype=torch.float32) for _ in range(steps)]
            noise_sets[str(steps)] = [mat(z) for z in noises]  # the same list for every case with this many steps
        ts, prevs, x0s, clipped = run_loop(cfg, steps, opts, noises, torch.float32)
        # the same recursion in float64 on the same (float32) tables: how far float32 rounding alone moves the result
        _, prevs64, x0s64, _ = run_loop(cfg, steps, opts, noises, torch.float64)
        record = sorted({0, 1, steps // 2, steps - 2, steps - 1})
        out.append(
            dict(
                name=name,
                config=cfg,
                num_inference_steps=steps,
                eta=opts['eta'],
                use_clipped_model_output=opts['use_clipped_model_output'],
                negate_model=opts['negate_model'],
                timesteps=ts,
                x_T=mat(X_T),
                noise_set=str(steps) if noises is not None else None,
                clipped_entries=clipped,
                steps=[
                    dict(
                        index=i,
                        t=ts[i],
                        prev_sample=mat(prevs[i]),
                        pred_original_sample=mat(x0s[i]),
                        prev_sample_float64=mat(prevs64[i]),
                        pred_original_sample_float64=mat(x0s64[i]),
                    )
                    for i in record
                ],
                final=mat(prevs[-1]),
                final_float64=mat(prevs64[-1]),
            )
        )
    return dict(
        generator='tools/reference/diffusers_reference.py',
        torch=torch.__version__,
        model='model(x, t) = x * t / (t + 1) in float32 (diffusers tests dummy_model), negated where negate_model is true',
        noise_sets=noise_sets,
        loops=out,
    )


def write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as fh:
        json.dump(obj, fh, separators=(',', ':'))
        fh.write('\n')
    print(f'wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes)', file=sys.stderr)


def main():
    write(SCHEDULES_OUT, schedules_fixture())
    write(LOOPS_OUT, loops_fixture())


if __name__ == '__main__':
    main()
