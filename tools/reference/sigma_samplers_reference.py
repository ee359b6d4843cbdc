#!/usr/bin/python3
"""Independent PyTorch reference for difflab's sigma-based samplers (Euler, Euler ancestral, Heun, LMS).

Re-implements, in torch float32 / numpy exactly as diffusers computes them, the parts of diffusers'
`EulerDiscreteScheduler`, `EulerAncestralDiscreteScheduler`, `HeunDiscreteScheduler` and
`LMSDiscreteScheduler` that difflab reproduces (diffusers itself is not installed here), and writes

  packages/samplers/src/__fixtures__/sigma-loops.json

which `packages/samplers/src/sigma-torch-reference.test.ts` compares against.

Run:  /usr/bin/python3 tools/reference/sigma_samplers_reference.py   (deterministic, a few seconds)

Sources followed (diffusers main as in the fork ChrisColeTech/diffusers@725959a, read through the code search):
  src/diffusers/schedulers/scheduling_euler_discrete.py            EulerDiscreteScheduler
  src/diffusers/schedulers/scheduling_euler_ancestral_discrete.py  EulerAncestralDiscreteScheduler
  src/diffusers/schedulers/scheduling_heun_discrete.py             HeunDiscreteScheduler
  src/diffusers/schedulers/scheduling_lms_discrete.py              LMSDiscreteScheduler
  tests/schedulers/test_schedulers.py      dummy_model `sample * t / (t + 1)`, dummy_sample_deter, dummy_noise_deter
  tests/schedulers/test_scheduler_{euler,euler_ancestral,heun,lms}.py   the published full-loop sums (checked below)
Every diffusers line reproduced below is quoted in a comment beside it. The beta schedules and
`rescale_zero_terminal_snr` come from diffusers_reference.py beside this file (same quoting).

numpy semantics: the script runs under the numpy it finds (1.24 on Debian 12). Two places depend on it and
are written down in the fixture: `np.log` of a float32 array uses numpy's SIMD float32 log (up to ~2 ulp
from the correctly rounded value), and in `_sigma_to_t` numpy 1.x's value-based casting computes
`dists` and `w` in float32 (numpy 2 would compute them in float64). Both only move Karras timesteps by
a few float32 ulps.

LMS: `get_lms_coefficient` integrates with scipy.integrate.quad (epsrel=1e-4) as diffusers does when
scipy is importable (Debian: python3-scipy); otherwise with a 20-point Gauss-Legendre rule in float64,
which is exact for these cubic-or-lower polynomials up to rounding (the fixture records which one ran).

Floats: float32 values are written as the shortest decimal that round-trips in float32 (Math.fround of
the parsed number gives the float32 back); float64 values with Python's repr.
"""

import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from diffusers_reference import make_betas  # noqa: E402  (beta schedules + rescale_zero_terminal_snr, quoted there)

try:
    import scipy
    from scipy import integrate

    HAVE_SCIPY = True
except ImportError:  # pragma: no cover - depends on the machine
    HAVE_SCIPY = False

torch.set_num_threads(1)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
OUT = os.path.join(ROOT, 'packages', 'samplers', 'src', '__fixtures__', 'sigma-loops.json')

EULER = 'EulerDiscreteScheduler'
ANCESTRAL = 'EulerAncestralDiscreteScheduler'
HEUN = 'HeunDiscreteScheduler'
LMS = 'LMSDiscreteScheduler'


def f32(v):
    """A float32 value as the shortest decimal that round-trips in float32 (as a Python float)."""
    return float(repr(np.float32(v)))


def f32list(t):
    if isinstance(t, torch.Tensor):
        t = t.detach().to(torch.float32).numpy()
    return [f32(v) for v in np.asarray(t, dtype=np.float32).reshape(-1)]


def f64list(t):
    if isinstance(t, torch.Tensor):
        t = t.detach().to(torch.float64).numpy()
    return [float(v) for v in np.asarray(t, dtype=np.float64).reshape(-1)]


def mat(t, dtype):
    return f32list(t) if dtype == torch.float32 else f64list(t)


# --------------------------------------------------------------------------------------------
# Tables shared by the four schedulers
# --------------------------------------------------------------------------------------------

def alphas_cumprod_for(cfg, cls):
    """`self.betas = ...` / `self.alphas = 1.0 - self.betas` / `self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)`,
    and for Euler / Euler ancestral the zero-terminal-SNR fix:
    `if rescale_betas_zero_snr: self.alphas_cumprod[-1] = 2**-24`."""
    betas = make_betas(cfg)  # applies `if rescale_betas_zero_snr: self.betas = rescale_zero_terminal_snr(self.betas)`
    alphas = 1.0 - betas  # `self.alphas = 1.0 - self.betas`
    alphas_cumprod = torch.cumprod(alphas, dim=0)  # `self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)`
    if cls in (EULER, ANCESTRAL) and cfg.get('rescale_betas_zero_snr', False):
        alphas_cumprod[-1] = 2 ** -24  # `self.alphas_cumprod[-1] = 2**-24`
    return alphas_cumprod


def spacing_timesteps(cfg, n, T):
    """The `timestep_spacing` branch of set_timesteps (identical in the four schedulers), float32 timesteps."""
    spacing = cfg['timestep_spacing']
    if spacing == 'linspace':
        # `timesteps = np.linspace(0, self.config.num_train_timesteps - 1, num_inference_steps, dtype=np.float32)[::-1].copy()`
        ts = np.linspace(0, T - 1, n, dtype=np.float32)[::-1].copy()
    elif spacing == 'leading':
        step_ratio = T // n  # `step_ratio = self.config.num_train_timesteps // self.num_inference_steps`
        # `timesteps = (np.arange(0, num_inference_steps) * step_ratio).round()[::-1].copy().astype(np.float32)`
        ts = (np.arange(0, n) * step_ratio).round()[::-1].copy().astype(np.float32)
        ts += cfg['steps_offset']  # `timesteps += self.config.steps_offset`
    elif spacing == 'trailing':
        step_ratio = T / n  # `step_ratio = self.config.num_train_timesteps / self.num_inference_steps`
        # `timesteps = (np.arange(self.config.num_train_timesteps, 0, -step_ratio)).round().copy().astype(np.float32)`
        ts = (np.arange(T, 0, -step_ratio)).round().copy().astype(np.float32)
        ts -= 1  # `timesteps -= 1`
    else:
        raise ValueError(spacing)
    return ts


def sigma_to_t(sigma, log_sigmas):
    """`_sigma_to_t` (the same code in all four)."""
    log_sigma = np.log(np.maximum(sigma, 1e-10))  # `log_sigma = np.log(np.maximum(sigma, 1e-10))`
    dists = log_sigma - log_sigmas[:, np.newaxis]  # `dists = log_sigma - log_sigmas[:, np.newaxis]`
    # `low_idx = np.cumsum((dists >= 0), axis=0).argmax(axis=0).clip(max=log_sigmas.shape[0] - 2)`
    low_idx = np.cumsum((dists >= 0), axis=0).argmax(axis=0).clip(max=log_sigmas.shape[0] - 2)
    high_idx = low_idx + 1  # `high_idx = low_idx + 1`
    low = log_sigmas[low_idx]  # `low = log_sigmas[low_idx]`
    high = log_sigmas[high_idx]  # `high = log_sigmas[high_idx]`
    w = (low - log_sigma) / (low - high)  # `w = (low - log_sigma) / (low - high)`
    w = np.clip(w, 0, 1)  # `w = np.clip(w, 0, 1)`
    t = (1 - w) * low_idx + w * high_idx  # `t = (1 - w) * low_idx + w * high_idx`
    t = t.reshape(sigma.shape)  # `t = t.reshape(sigma.shape)`
    return t


def convert_to_karras(in_sigmas, n, sigma_min_cfg=None, sigma_max_cfg=None):
    """`_convert_to_karras` (Euler reads `config.sigma_min` / `config.sigma_max` when present; Heun's copy of
    it finds no such keys, LMS's own version uses `in_sigmas` only)."""
    # `sigma_min = sigma_min if sigma_min is not None else in_sigmas[-1].item()`
    sigma_min = sigma_min_cfg if sigma_min_cfg is not None else in_sigmas[-1].item()
    # `sigma_max = sigma_max if sigma_max is not None else in_sigmas[0].item()`
    sigma_max = sigma_max_cfg if sigma_max_cfg is not None else in_sigmas[0].item()
    rho = 7.0  # `rho = 7.0  # 7.0 is the value used in the paper`
    ramp = np.linspace(0, 1, n)  # `ramp = np.linspace(0, 1, num_inference_steps)`
    min_inv_rho = sigma_min ** (1 / rho)  # `min_inv_rho = sigma_min ** (1 / rho)`
    max_inv_rho = sigma_max ** (1 / rho)  # `max_inv_rho = sigma_max ** (1 / rho)`
    # `sigmas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho`
    return (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho


class SigmaScheduler:
    """What the four share: tables, set_timesteps, index_for_timestep / step_index, scale_model_input, add_noise."""

    order = 1

    def __init__(self, cls, cfg):
        self.cls = cls
        self.cfg = cfg
        self.T = cfg['num_train_timesteps']
        self.alphas_cumprod = alphas_cumprod_for(cfg, cls)
        self._step_index = None
        self._begin_index = None
        if cls in (EULER, ANCESTRAL):
            # EulerAncestral: `sigmas = np.array(((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5)`
            #                 `sigmas = np.concatenate([sigmas[::-1], [0.0]]).astype(np.float32)`
            # Euler:          `sigmas = (((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5).flip(0)`
            #                 `self.sigmas = torch.cat([sigmas, torch.zeros(1, device=sigmas.device)])`   (same values)
            sigmas = (((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5).flip(0)
            self.sigmas = torch.cat([sigmas, torch.zeros(1)])
            # `timesteps = np.linspace(0, num_train_timesteps - 1, num_train_timesteps, dtype=float)[::-1].copy()`
            timesteps = torch.from_numpy(np.linspace(0, self.T - 1, self.T, dtype=float)[::-1].copy()).to(torch.float32)
            if cls == EULER and cfg['timestep_type'] == 'continuous' and cfg['prediction_type'] == 'v_prediction':
                # `self.timesteps = torch.Tensor([0.25 * sigma.log() for sigma in sigmas])`
                self.timesteps = torch.Tensor([0.25 * sigma.log() for sigma in sigmas])
            else:
                self.timesteps = timesteps  # `self.timesteps = timesteps`
            self.num_inference_steps = None
        else:
            # Heun: `self.set_timesteps(num_train_timesteps, None, num_train_timesteps)`; LMS: `self.set_timesteps(num_train_timesteps, None)`
            self.set_timesteps(self.T)

    # `init_noise_sigma` property
    @property
    def init_noise_sigma(self):
        max_sigma = self.sigmas.max()  # `max_sigma = ... self.sigmas.max()`
        if self.cfg['timestep_spacing'] in ['linspace', 'trailing']:  # `if self.config.timestep_spacing in ["linspace", "trailing"]:`
            return max_sigma  # `return max_sigma`
        return (max_sigma ** 2 + 1) ** 0.5  # `return (max_sigma**2 + 1) ** 0.5`

    def set_timesteps(self, n):
        cfg, T, cls = self.cfg, self.T, self.cls
        self.num_inference_steps = n  # `self.num_inference_steps = num_inference_steps`
        timesteps = spacing_timesteps(cfg, n, T)
        # `sigmas = np.array(((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5)`
        sigmas = np.array(((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5)
        log_sigmas = np.log(sigmas)  # `log_sigmas = np.log(sigmas)`
        interpolation = cfg.get('interpolation_type', 'linear') if cls == EULER else 'linear'
        if interpolation == 'linear':
            # `sigmas = np.interp(timesteps, np.arange(0, len(sigmas)), sigmas)`
            sigmas = np.interp(timesteps, np.arange(0, len(sigmas)), sigmas)
        elif interpolation == 'log_linear':
            # `sigmas = torch.linspace(np.log(sigmas[-1]), np.log(sigmas[0]), num_inference_steps + 1).exp().numpy()`
            sigmas = torch.linspace(np.log(sigmas[-1]), np.log(sigmas[0]), n + 1).exp().numpy()
        else:
            raise ValueError(interpolation)
        if cls != ANCESTRAL and cfg['use_karras_sigmas']:
            if cls == EULER:
                # `sigmas = self._convert_to_karras(in_sigmas=sigmas, num_inference_steps=self.num_inference_steps)`
                sigmas = convert_to_karras(sigmas, n, cfg.get('sigma_min'), cfg.get('sigma_max'))
            else:
                # Heun: `self._convert_to_karras(in_sigmas=sigmas, num_inference_steps=self.num_inference_steps)`; LMS: `self._convert_to_karras(in_sigmas=sigmas)`
                sigmas = convert_to_karras(sigmas, n)
            # `timesteps = np.array([self._sigma_to_t(sigma, log_sigmas) for sigma in sigmas])`
            timesteps = np.array([sigma_to_t(sigma, log_sigmas) for sigma in sigmas])
        if cls == EULER and cfg['final_sigmas_type'] == 'sigma_min':
            # `sigma_last = ((1 - self.alphas_cumprod[0]) / self.alphas_cumprod[0]) ** 0.5`
            sigma_last = ((1 - self.alphas_cumprod[0]) / self.alphas_cumprod[0]) ** 0.5
        else:
            sigma_last = 0  # `sigma_last = 0` (Euler 'zero'); the others: `np.concatenate([sigmas, [0.0]])`
        # `sigmas = np.concatenate([sigmas, [sigma_last]]).astype(np.float32)`
        sigmas = np.concatenate([sigmas, [sigma_last]]).astype(np.float32)
        sigmas = torch.from_numpy(sigmas).to(dtype=torch.float32)  # `sigmas = torch.from_numpy(sigmas).to(dtype=torch.float32, device=device)`
        if cls == HEUN:
            # `self.sigmas = torch.cat([sigmas[:1], sigmas[1:-1].repeat_interleave(2), sigmas[-1:]])`
            self.sigmas = torch.cat([sigmas[:1], sigmas[1:-1].repeat_interleave(2), sigmas[-1:]])
            timesteps = torch.from_numpy(timesteps)  # `timesteps = torch.from_numpy(timesteps)`
            # `timesteps = torch.cat([timesteps[:1], timesteps[1:].repeat_interleave(2)])`
            timesteps = torch.cat([timesteps[:1], timesteps[1:].repeat_interleave(2)])
            self.timesteps = timesteps.to(dtype=torch.float32)  # `self.timesteps = timesteps.to(device=device, dtype=torch.float32)`
            self.prev_derivative = None  # `self.prev_derivative = None`
            self.dt = None  # `self.dt = None`
        else:
            self.sigmas = sigmas
            if cls == EULER and cfg['timestep_type'] == 'continuous' and cfg['prediction_type'] == 'v_prediction':
                # `self.timesteps = torch.Tensor([0.25 * sigma.log() for sigma in sigmas[:-1]]).to(device=device)`
                self.timesteps = torch.Tensor([0.25 * sigma.log() for sigma in sigmas[:-1]])
            else:
                # `self.timesteps = torch.from_numpy(timesteps.astype(np.float32)).to(device=device)`
                self.timesteps = torch.from_numpy(timesteps.astype(np.float32))
        if cls == LMS:
            self.derivatives = []  # `self.derivatives = []`
        self._step_index = None  # `self._step_index = None`
        self._begin_index = None  # `self._begin_index = None`

    def index_for_timestep(self, timestep, schedule_timesteps=None):
        if schedule_timesteps is None:
            schedule_timesteps = self.timesteps
        indices = (schedule_timesteps == timestep).nonzero()  # `indices = (schedule_timesteps == timestep).nonzero()`
        pos = 1 if len(indices) > 1 else 0  # `pos = 1 if len(indices) > 1 else 0`
        return indices[pos].item()  # `return indices[pos].item()`

    def _init_step_index(self, timestep):
        if self._begin_index is None:  # `if self.begin_index is None:`
            self._step_index = self.index_for_timestep(timestep)  # `self._step_index = self.index_for_timestep(timestep)`
        else:
            self._step_index = self._begin_index  # `self._step_index = self._begin_index`

    def scale_model_input(self, sample, timestep):
        if self._step_index is None:  # `if self.step_index is None:`
            self._init_step_index(timestep)  # `self._init_step_index(timestep)`
        sigma = self.sigmas[self._step_index].to(sample.dtype)  # `sigma = self.sigmas[self.step_index]`
        return sample / ((sigma ** 2 + 1) ** 0.5)  # `sample = sample / ((sigma**2 + 1) ** 0.5)`

    def add_noise(self, original_samples, noise, timesteps):
        sigmas = self.sigmas.to(dtype=original_samples.dtype)  # `sigmas = self.sigmas.to(device=..., dtype=original_samples.dtype)`
        schedule_timesteps = self.timesteps
        if self._begin_index is None:  # `if self.begin_index is None:`
            # `step_indices = [self.index_for_timestep(t, schedule_timesteps) for t in timesteps]`
            step_indices = [self.index_for_timestep(t, schedule_timesteps) for t in timesteps]
        elif self._step_index is not None:
            step_indices = [self._step_index] * timesteps.shape[0]  # `step_indices = [self.step_index] * timesteps.shape[0]`
        else:
            step_indices = [self._begin_index] * timesteps.shape[0]  # `step_indices = [self.begin_index] * timesteps.shape[0]`
        sigma = sigmas[step_indices].flatten()  # `sigma = sigmas[step_indices].flatten()`
        while len(sigma.shape) < len(original_samples.shape):  # `while len(sigma.shape) < len(original_samples.shape):`
            sigma = sigma.unsqueeze(-1)  # `sigma = sigma.unsqueeze(-1)`
        return original_samples + noise * sigma  # `noisy_samples = original_samples + noise * sigma`


def pred_x0(prediction_type, model_output, sample, sigma, sigma_eps):
    """Step 1 of the four `step`s: x_0 from the model output. `sigma_eps` is the sigma the epsilon branch uses
    (sigma_hat for Euler, sigma_input for Heun), `sigma` the one the v branch uses (Euler uses plain sigma there)."""
    if prediction_type == 'epsilon':
        return sample - sigma_eps * model_output  # `pred_original_sample = sample - sigma_hat * model_output`
    if prediction_type == 'v_prediction':
        # `pred_original_sample = model_output * (-sigma / (sigma**2 + 1) ** 0.5) + (sample / (sigma**2 + 1))`
        return model_output * (-sigma / (sigma ** 2 + 1) ** 0.5) + (sample / (sigma ** 2 + 1))
    if prediction_type == 'sample':
        return model_output  # `pred_original_sample = model_output`
    raise ValueError(prediction_type)


class Euler(SigmaScheduler):
    def step(self, model_output, timestep, sample, noise, opts):
        s_churn, s_tmin, s_tmax, s_noise = opts.get('s_churn', 0.0), opts.get('s_tmin', 0.0), opts.get('s_tmax', float('inf')), opts.get('s_noise', 1.0)
        if self._step_index is None:  # `if self.step_index is None: self._init_step_index(timestep)`
            self._init_step_index(timestep)
        sample = sample.to(model_output.dtype)  # `sample = sample.to(torch.float32)` (float64 in the float64 shadow run)
        sigma = self.sigmas[self._step_index].to(sample.dtype)  # `sigma = self.sigmas[self.step_index]`
        # `gamma = min(s_churn / (len(self.sigmas) - 1), 2**0.5 - 1) if s_tmin <= sigma <= s_tmax else 0.0`
        gamma = min(s_churn / (len(self.sigmas) - 1), 2 ** 0.5 - 1) if s_tmin <= sigma <= s_tmax else 0.0
        sigma_hat = sigma * (gamma + 1)  # `sigma_hat = sigma * (gamma + 1)`
        used_noise = False
        if gamma > 0:  # `if gamma > 0:`
            eps = noise * s_noise  # `noise = randn_tensor(...)` / `eps = noise * s_noise`
            sample = sample + eps * (sigma_hat ** 2 - sigma ** 2) ** 0.5  # `sample = sample + eps * (sigma_hat**2 - sigma**2) ** 0.5`
            used_noise = True
        if self.cfg['prediction_type'] == 'v_prediction':
            x0 = pred_x0('v_prediction', model_output, sample, sigma, sigma_hat)  # the v branch uses `sigma`, not sigma_hat
        else:
            x0 = pred_x0(self.cfg['prediction_type'], model_output, sample, sigma, sigma_hat)
        derivative = (sample - x0) / sigma_hat  # `derivative = (sample - pred_original_sample) / sigma_hat`
        dt = self.sigmas[self._step_index + 1].to(sample.dtype) - sigma_hat  # `dt = self.sigmas[self.step_index + 1] - sigma_hat`
        prev_sample = sample + derivative * dt  # `prev_sample = sample + derivative * dt`
        self._step_index += 1  # `self._step_index += 1`
        return prev_sample, x0, used_noise


class EulerAncestral(SigmaScheduler):
    def step(self, model_output, timestep, sample, noise, opts):
        if self._step_index is None:
            self._init_step_index(timestep)
        sigma = self.sigmas[self._step_index].to(model_output.dtype)  # `sigma = self.sigmas[self.step_index]`
        sample = sample.to(model_output.dtype)  # `sample = sample.to(torch.float32)`
        # `pred_original_sample = sample - sigma * model_output` / v: `model_output * (-sigma / (sigma**2 + 1) ** 0.5) + (sample / (sigma**2 + 1))`
        x0 = pred_x0(self.cfg['prediction_type'], model_output, sample, sigma, sigma)
        sigma_from = self.sigmas[self._step_index].to(model_output.dtype)  # `sigma_from = self.sigmas[self.step_index]`
        sigma_to = self.sigmas[self._step_index + 1].to(model_output.dtype)  # `sigma_to = self.sigmas[self.step_index + 1]`
        # `sigma_up = (sigma_to**2 * (sigma_from**2 - sigma_to**2) / sigma_from**2) ** 0.5`
        sigma_up = (sigma_to ** 2 * (sigma_from ** 2 - sigma_to ** 2) / sigma_from ** 2) ** 0.5
        sigma_down = (sigma_to ** 2 - sigma_up ** 2) ** 0.5  # `sigma_down = (sigma_to**2 - sigma_up**2) ** 0.5`
        derivative = (sample - x0) / sigma  # `derivative = (sample - pred_original_sample) / sigma`
        dt = sigma_down - sigma  # `dt = sigma_down - sigma`
        prev_sample = sample + derivative * dt  # `prev_sample = sample + derivative * dt`
        # `noise = randn_tensor(model_output.shape, dtype=model_output.dtype, device=device, generator=generator)`
        prev_sample = prev_sample + noise * sigma_up  # `prev_sample = prev_sample + noise * sigma_up`
        self._step_index += 1
        return prev_sample, x0, True


class Heun(SigmaScheduler):
    order = 2  # `order = 2`

    @property
    def state_in_first_order(self):
        return self.dt is None  # `return self.dt is None`

    def step(self, model_output, timestep, sample, noise, opts):
        cfg = self.cfg
        if self._step_index is None:
            self._init_step_index(timestep)
        sig = self.sigmas.to(model_output.dtype)
        if self.state_in_first_order:
            sigma = sig[self._step_index]  # `sigma = self.sigmas[self.step_index]`
            sigma_next = sig[self._step_index + 1]  # `sigma_next = self.sigmas[self.step_index + 1]`
        else:
            sigma = sig[self._step_index - 1]  # `sigma = self.sigmas[self.step_index - 1]`
            sigma_next = sig[self._step_index]  # `sigma_next = self.sigmas[self.step_index]`
        gamma = 0  # `gamma = 0`
        sigma_hat = sigma * (gamma + 1)  # `sigma_hat = sigma * (gamma + 1)  # Note: sigma_hat == sigma for now`
        # `sigma_input = sigma_hat if self.state_in_first_order else sigma_next`
        sigma_input = sigma_hat if self.state_in_first_order else sigma_next
        # epsilon: `pred_original_sample = sample - sigma_input * model_output`
        # v: `model_output * (-sigma_input / (sigma_input**2 + 1) ** 0.5) + (sample / (sigma_input**2 + 1))`
        x0 = pred_x0(cfg['prediction_type'], model_output, sample, sigma_input, sigma_input)
        if cfg['clip_sample']:  # `if self.config.clip_sample:`
            # `pred_original_sample = pred_original_sample.clamp(-self.config.clip_sample_range, self.config.clip_sample_range)`
            x0 = x0.clamp(-cfg['clip_sample_range'], cfg['clip_sample_range'])
        if self.state_in_first_order:
            derivative = (sample - x0) / sigma_hat  # `derivative = (sample - pred_original_sample) / sigma_hat`
            dt = sigma_next - sigma_hat  # `dt = sigma_next - sigma_hat`
            self.prev_derivative = derivative  # `self.prev_derivative = derivative`
            self.dt = dt  # `self.dt = dt`
            self.sample = sample  # `self.sample = sample`
        else:
            derivative = (sample - x0) / sigma_next  # `derivative = (sample - pred_original_sample) / sigma_next`
            derivative = (self.prev_derivative + derivative) / 2  # `derivative = (self.prev_derivative + derivative) / 2`
            dt = self.dt  # `dt = self.dt`
            sample = self.sample  # `sample = self.sample`
            self.prev_derivative = None  # `self.prev_derivative = None`
            self.dt = None  # `self.dt = None`
            self.sample = None  # `self.sample = None`
        prev_sample = sample + derivative * dt  # `prev_sample = sample + derivative * dt`
        self._step_index += 1
        return prev_sample, x0, False


def gauss_legendre_quad(fn, a, b, n=20):
    """Fallback when scipy is missing: n-point Gauss-Legendre in float64 (exact for degree <= 2n - 1)."""
    x, w = np.polynomial.legendre.leggauss(n)
    c, h = 0.5 * (a + b), 0.5 * (b - a)
    return float(sum(wi * float(fn(c + h * xi)) for xi, wi in zip(x, w)) * h), n


class LMSState:
    neval_max = 0


class LMSDiscrete(SigmaScheduler):
    def get_lms_coefficient(self, order, t, current_order, sigmas):
        def lms_derivative(tau):
            prod = 1.0  # `prod = 1.0`
            for k in range(order):  # `for k in range(order):`
                if current_order == k:  # `if current_order == k: continue`
                    continue
                # `prod *= (tau - self.sigmas[t - k]) / (self.sigmas[t - current_order] - self.sigmas[t - k])`
                prod *= (tau - sigmas[t - k]) / (sigmas[t - current_order] - sigmas[t - k])
            return prod

        if HAVE_SCIPY:
            # `integrated_coeff = integrate.quad(lms_derivative, self.sigmas[t], self.sigmas[t + 1], epsrel=1e-4)[0]`
            y, _err, info = integrate.quad(lms_derivative, sigmas[t], sigmas[t + 1], epsrel=1e-4, full_output=1)
            LMSState.neval_max = max(LMSState.neval_max, info['neval'])
            return y
        y, neval = gauss_legendre_quad(lms_derivative, float(sigmas[t]), float(sigmas[t + 1]))
        LMSState.neval_max = max(LMSState.neval_max, neval)
        return y

    def step(self, model_output, timestep, sample, noise, opts):
        order = opts.get('order', 4)
        if self._step_index is None:
            self._init_step_index(timestep)
        sig = self.sigmas.to(model_output.dtype)
        sigma = sig[self._step_index]  # `sigma = self.sigmas[self.step_index]`
        x0 = pred_x0(self.cfg['prediction_type'], model_output, sample, sigma, sigma)
        derivative = (sample - x0) / sigma  # `derivative = (sample - pred_original_sample) / sigma`
        self.derivatives.append(derivative)  # `self.derivatives.append(derivative)`
        if len(self.derivatives) > order:  # `if len(self.derivatives) > order: self.derivatives.pop(0)`
            self.derivatives.pop(0)
        order = min(self._step_index + 1, order)  # `order = min(self.step_index + 1, order)`
        # `lms_coeffs = [self.get_lms_coefficient(order, self.step_index, curr_order) for curr_order in range(order)]`
        lms_coeffs = [self.get_lms_coefficient(order, self._step_index, co, sig) for co in range(order)]
        self.last_coeffs = lms_coeffs
        # `prev_sample = sample + sum(coeff * derivative for coeff, derivative in zip(lms_coeffs, reversed(self.derivatives)))`
        prev_sample = sample + sum(coeff * derivative for coeff, derivative in zip(lms_coeffs, reversed(self.derivatives)))
        self._step_index += 1
        return prev_sample, x0, False


CLASSES = {EULER: Euler, ANCESTRAL: EulerAncestral, HEUN: Heun, LMS: LMSDiscrete}


# --------------------------------------------------------------------------------------------
# Configs (full diffusers scheduler_config.json objects, every __init__ key with its default)
# --------------------------------------------------------------------------------------------

LINEAR_1000 = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule='linear')
LINEAR_1100 = dict(num_train_timesteps=1100, beta_start=0.0001, beta_end=0.02, beta_schedule='linear')  # diffusers' tests
SD_1000 = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule='scaled_linear')
SPIRAL_50 = dict(num_train_timesteps=50, beta_start=0.0001, beta_end=0.2, beta_schedule='linear')
COSINE_40 = dict(num_train_timesteps=40, beta_start=0.0001, beta_end=0.02, beta_schedule='squaredcos_cap_v2')


def config(cls, sched, **kw):
    """A full config with diffusers' defaults for `cls`, `sched` on top, then `kw`."""
    if cls == EULER:
        c = dict(
            _class_name=EULER, num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule='linear', trained_betas=None,
            prediction_type='epsilon', interpolation_type='linear', use_karras_sigmas=False, use_exponential_sigmas=False,
            use_beta_sigmas=False, sigma_min=None, sigma_max=None, timestep_spacing='linspace', timestep_type='discrete',
            steps_offset=0, rescale_betas_zero_snr=False, final_sigmas_type='zero',
        )
    elif cls == ANCESTRAL:
        c = dict(
            _class_name=ANCESTRAL, num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule='linear', trained_betas=None,
            prediction_type='epsilon', timestep_spacing='linspace', steps_offset=0, rescale_betas_zero_snr=False,
        )
    elif cls == HEUN:
        c = dict(
            _class_name=HEUN, num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule='linear', trained_betas=None,
            prediction_type='epsilon', use_karras_sigmas=False, use_exponential_sigmas=False, use_beta_sigmas=False,
            clip_sample=False, clip_sample_range=1.0, timestep_spacing='linspace', steps_offset=0,
        )
    elif cls == LMS:
        c = dict(
            _class_name=LMS, num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule='linear', trained_betas=None,
            use_karras_sigmas=False, use_exponential_sigmas=False, use_beta_sigmas=False, prediction_type='epsilon',
            timestep_spacing='linspace', steps_offset=0,
        )
    else:
        raise ValueError(cls)
    c.update(sched)
    c.update(kw)
    return c


def make(cfg):
    return CLASSES[cfg['_class_name']](cfg['_class_name'], cfg)


# --------------------------------------------------------------------------------------------
# Fixture 1: set_timesteps tables (timesteps, sigmas, init_noise_sigma), including the state after __init__
# --------------------------------------------------------------------------------------------

def table_cases():
    cases = []
    for cls in (EULER, ANCESTRAL, HEUN, LMS):
        for sched_name, sched in (('spiral50', SPIRAL_50), ('sd1000', SD_1000), ('cosine40', COSINE_40)):
            T = sched['num_train_timesteps']
            for spacing in ('linspace', 'leading', 'trailing'):
                karras_opts = (False, True) if cls != ANCESTRAL else (False,)
                for karras in karras_opts:
                    kw = dict(timestep_spacing=spacing)
                    if cls != ANCESTRAL:
                        kw['use_karras_sigmas'] = karras
                    for n in (1, 10, 25) if T >= 25 else (1, 7, 10):
                        cases.append((f'{cls}-{sched_name}-{spacing}-karras{int(karras)}-{n}', config(cls, sched, **kw), n))
        # the state right after __init__ (Heun / LMS call set_timesteps(T) there) on a small T
        cases.append((f'{cls}-spiral50-init', config(cls, SPIRAL_50), None))
    cases.append((f'{EULER}-linear1000-leading-offset1-10', config(EULER, LINEAR_1000, timestep_spacing='leading', steps_offset=1), 10))
    cases.append((f'{EULER}-sd1000-log_linear-10', config(EULER, SD_1000, interpolation_type='log_linear'), 10))
    cases.append((f'{EULER}-sd1000-log_linear-karras-10', config(EULER, SD_1000, interpolation_type='log_linear', use_karras_sigmas=True), 10))
    cases.append((f'{EULER}-linear1000-sigma_min-10', config(EULER, LINEAR_1000, final_sigmas_type='sigma_min'), 10))
    cases.append((f'{EULER}-linear1000-karras-bounds-10', config(EULER, LINEAR_1000, use_karras_sigmas=True, sigma_min=0.02, sigma_max=700.0), 10))
    cases.append((f'{EULER}-sd1000-continuous-v-10', config(EULER, SD_1000, timestep_type='continuous', prediction_type='v_prediction'), 10))
    cases.append((f'{EULER}-sd1000-continuous-v-init', config(EULER, SPIRAL_50, timestep_type='continuous', prediction_type='v_prediction'), None))
    for cls in (EULER, ANCESTRAL):
        cases.append((f'{cls}-sd1000-zsnr-trailing-10', config(cls, SD_1000, rescale_betas_zero_snr=True, timestep_spacing='trailing'), 10))
        cases.append((f'{cls}-sd1000-zsnr-leading-10', config(cls, SD_1000, rescale_betas_zero_snr=True, timestep_spacing='leading'), 10))
    cases.append((f'{EULER}-sd1000-zsnr-karras-10', config(EULER, SD_1000, rescale_betas_zero_snr=True, use_karras_sigmas=True), 10))
    return cases


def tables_fixture():
    out = []
    for name, cfg, n in table_cases():
        s = make(cfg)
        if n is not None:
            s.set_timesteps(n)
        out.append(
            dict(
                name=name,
                config=cfg,
                num_inference_steps=n,
                timesteps=f32list(s.timesteps),
                sigmas=f32list(s.sigmas),
                init_noise_sigma=f32(s.init_noise_sigma),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Fixture 2: full loops (pipeline order: the model sees scale_model_input(x), step gets x itself)
# --------------------------------------------------------------------------------------------

SHAPE = (4, 2)
# unit-variance stand-in for x_T: a fixed [4, 2] linspace(-3, 3) (the same as diffusers_reference.py), times init_noise_sigma
X_UNIT = torch.linspace(-3.0, 3.0, 8, dtype=torch.float32).reshape(SHAPE)


def dummy_model(sample, t):
    """diffusers tests `dummy_model`: `t = t.reshape(-1, *(1,) * (num_dims - 1)).to(sample.device, dtype=sample.dtype)`
    / `return sample * t / (t + 1)`; t is a float32 entry of `scheduler.timesteps`."""
    tt = t.to(sample.dtype)
    return sample * tt / (tt + 1)


def loop_cases():
    cases = []

    def add(name, cfg, n, **opts):
        cases.append((name, cfg, n, opts))

    for n in (10, 25):
        for pt in ('epsilon', 'v_prediction'):
            p = 'eps' if pt == 'epsilon' else 'v'
            add(f'euler-linear1000-{n}-linspace-{p}', config(EULER, LINEAR_1000, prediction_type=pt), n)
            add(f'euler-sd1000-{n}-karras-{p}', config(EULER, SD_1000, prediction_type=pt, use_karras_sigmas=True), n)
            add(f'ancestral-linear1000-{n}-linspace-{p}', config(ANCESTRAL, LINEAR_1000, prediction_type=pt), n)
            add(f'heun-linear1000-{n}-linspace-{p}', config(HEUN, LINEAR_1000, prediction_type=pt), n)
            add(f'heun-sd1000-{n}-karras-{p}', config(HEUN, SD_1000, prediction_type=pt, use_karras_sigmas=True), n)
            add(f'lms-linear1000-{n}-linspace-{p}', config(LMS, LINEAR_1000, prediction_type=pt), n)
            add(f'lms-sd1000-{n}-karras-{p}', config(LMS, SD_1000, prediction_type=pt, use_karras_sigmas=True), n)
    for cls, short in ((EULER, 'euler'), (ANCESTRAL, 'ancestral'), (HEUN, 'heun'), (LMS, 'lms')):
        add(f'{short}-linear1000-10-leading-eps', config(cls, LINEAR_1000, timestep_spacing='leading', steps_offset=1), 10)
        add(f'{short}-sd1000-10-trailing-eps', config(cls, SD_1000, timestep_spacing='trailing'), 10)
        add(f'{short}-spiral50-10-linspace-eps', config(cls, SPIRAL_50), 10)
        add(f'{short}-cosine40-7-leading-v', config(cls, COSINE_40, timestep_spacing='leading', prediction_type='v_prediction'), 7)
    add('euler-linear1000-10-sample', config(EULER, LINEAR_1000, prediction_type='sample'), 10)
    add('euler-sd1000-10-log_linear', config(EULER, SD_1000, interpolation_type='log_linear'), 10)
    add('euler-linear1000-10-sigma_min', config(EULER, LINEAR_1000, final_sigmas_type='sigma_min'), 10)
    # sigma_max inside the table's range: with diffusers' test values (0.02, 700) the first Karras sigmas exceed sigma_{T-1},
    # _sigma_to_t clips them all to t = 999, and a full loop runs off the end (index_for_timestep takes the second 999)
    add('euler-linear1000-10-karras-bounds', config(EULER, LINEAR_1000, use_karras_sigmas=True, sigma_min=0.05, sigma_max=80.0), 10)
    add('euler-sd1000-10-continuous-v', config(EULER, SD_1000, timestep_type='continuous', prediction_type='v_prediction'), 10)
    add('euler-linear1000-10-churn', config(EULER, LINEAR_1000), 10, s_churn=1.0, s_tmin=0.5, s_tmax=10.0, s_noise=1.003)
    add('euler-sd1000-10-zsnr-trailing-v', config(EULER, SD_1000, rescale_betas_zero_snr=True, timestep_spacing='trailing', prediction_type='v_prediction'), 10)
    add('ancestral-sd1000-10-zsnr-trailing-v', config(ANCESTRAL, SD_1000, rescale_betas_zero_snr=True, timestep_spacing='trailing', prediction_type='v_prediction'), 10)
    add('heun-linear1000-10-sample-clip', config(HEUN, LINEAR_1000, prediction_type='sample', clip_sample=True, clip_sample_range=0.5), 10)
    add('heun-linear1000-10-eps-clip', config(HEUN, LINEAR_1000, clip_sample=True, clip_sample_range=2.0), 10)
    add('lms-linear1000-10-sample', config(LMS, LINEAR_1000, prediction_type='sample'), 10)
    add('lms-linear1000-10-order2', config(LMS, LINEAR_1000), 10, order=2)
    add('lms-sd1000-25-order3-karras', config(LMS, SD_1000, use_karras_sigmas=True), 25, order=3)
    return cases


def noise_for(n):
    """One fixed N(0, I) [4, 2] tensor per step (diffusers: the generator's `randn_tensor`; difflab: StepOptions.noise)."""
    g = torch.Generator().manual_seed(4321 + n)
    return [torch.randn(SHAPE, generator=g, dtype=torch.float32) for _ in range(n)]


def run_loop(cfg, n, opts, noises, dtype):
    s = make(cfg)
    s.set_timesteps(n)
    x = X_UNIT.to(dtype) * s.init_noise_sigma.to(dtype)  # `sample = self.dummy_sample_deter * scheduler.init_noise_sigma`
    rec = []
    coeffs = []
    for i, t in enumerate(s.timesteps):
        # pipeline order: `latent_model_input = scheduler.scale_model_input(latents, t)` /
        # `noise_pred = unet(latent_model_input, t)` / `latents = scheduler.step(noise_pred, t, latents).prev_sample`
        inp = s.scale_model_input(x, t)
        out = dummy_model(inp, t)
        z = noises[i].to(dtype) if noises is not None else None
        x, x0, used = s.step(out, t, x, z, opts)
        rec.append((inp, x, x0, used))
        if isinstance(s, LMSDiscrete):
            coeffs.append(list(s.last_coeffs))
    return s, rec, coeffs


def loops_fixture():
    out = []
    noise_sets = {}
    for name, cfg, n, opts in loop_cases():
        s0 = make(cfg)
        s0.set_timesteps(n)
        L = len(s0.timesteps)
        needs_noise = cfg['_class_name'] == ANCESTRAL or opts.get('s_churn', 0) > 0
        noises = None
        if needs_noise:
            noises = noise_for(L)
            noise_sets[str(L)] = [f32list(z) for z in noises]
        s, rec, coeffs = run_loop(cfg, n, opts, noises, torch.float32)
        # the same recursion in float64 on the same float32 tables: how far float32 rounding alone moves the result
        _, rec64, _ = run_loop(cfg, n, opts, noises, torch.float64)
        record = sorted({0, 1, 2, L // 2, L - 2, L - 1} & set(range(L)))
        out.append(
            dict(
                name=name,
                config=cfg,
                num_inference_steps=n,
                step_options=opts,
                timesteps=f32list(s.timesteps),
                sigmas=f32list(s.sigmas),
                init_noise_sigma=f32(s.init_noise_sigma),
                noise_set=str(L) if noises is not None else None,
                noise_used=[bool(r[3]) for r in rec],
                lms_coefficients=coeffs if coeffs else None,
                steps=[
                    dict(
                        index=i,
                        t=f32(s.timesteps[i]),
                        model_input=f32list(rec[i][0]),
                        prev_sample=f32list(rec[i][1]),
                        pred_original_sample=f32list(rec[i][2]),
                        prev_sample_float64=f64list(rec64[i][1]),
                        pred_original_sample_float64=f64list(rec64[i][2]),
                    )
                    for i in record
                ],
                final=f32list(rec[-1][1]),
                final_float64=f64list(rec64[-1][1]),
            )
        )
    return out, noise_sets


# --------------------------------------------------------------------------------------------
# Fixture 3: diffusers' own published full-loop numbers (tests/schedulers/test_scheduler_*.py)
# --------------------------------------------------------------------------------------------

def dummy_sample_deter():
    """`sample = torch.arange(num_elems)` / `.reshape(num_channels, height, width, batch_size)` / `sample / num_elems` /
    `.permute(3, 0, 1, 2)` with batch 4, 3 channels, 8 x 8."""
    num_elems = 4 * 3 * 8 * 8
    sample = torch.arange(num_elems)
    sample = sample.reshape(3, 8, 8, 4)
    sample = sample / num_elems
    return sample.permute(3, 0, 1, 2)


def dummy_noise_deter():
    """`sample = torch.arange(num_elems).flip(-1)` then as dummy_sample_deter."""
    num_elems = 4 * 3 * 8 * 8
    sample = torch.arange(num_elems).flip(-1)
    sample = sample.reshape(3, 8, 8, 4)
    sample = sample / num_elems
    return sample.permute(3, 0, 1, 2)


# (name, class, config overrides, with_noise, published sum, sum tolerance, published mean, mean tolerance)
PARITY = [
    ('euler-no-noise', EULER, {}, False, 10.0807, 1e-2, 0.0131, 1e-3),
    ('euler-v', EULER, dict(prediction_type='v_prediction'), False, 0.0002, 1e-2, 2.2676e-06, 1e-3),
    ('euler-karras', EULER, dict(use_karras_sigmas=True), False, 124.52299499511719, 1e-2, 0.16213932633399963, 1e-3),
    ('euler-with-noise', EULER, {}, True, 57062.9297, 1e-2, 74.3007, 1e-3),
    ('ancestral-no-noise', ANCESTRAL, {}, False, 152.3192, 1e-2, 0.1983, 1e-3),
    ('ancestral-v', ANCESTRAL, dict(prediction_type='v_prediction'), False, 108.4439, 1e-2, 0.1412, 1e-3),
    ('ancestral-with-noise', ANCESTRAL, {}, True, 56163.0508, 1e-2, 73.1290, 1e-3),
    ('heun-no-noise', HEUN, {}, False, 0.1233, 1e-2, 0.0002, 1e-3),
    ('heun-v', HEUN, dict(prediction_type='v_prediction'), False, 4.6934e-07, 1e-2, 6.1112e-10, 1e-3),
    ('heun-karras', HEUN, dict(use_karras_sigmas=True), False, 0.00015, 1e-2, 1.9869554535034695e-07, 1e-2),
    ('heun-with-noise', HEUN, {}, True, 75074.8906, 1e-2, 97.7538, 1e-3),
    ('lms-no-noise', LMS, {}, False, 1006.388, 1e-2, 1.31, 1e-3),
    ('lms-v', LMS, dict(prediction_type='v_prediction'), False, 0.0017, 1e-2, 2.2676e-06, 1e-3),
    ('lms-karras', LMS, dict(use_karras_sigmas=True), False, 3812.9927, 2e-2, 4.9648, 1e-3),
    ('lms-with-noise', LMS, {}, True, 27663.6895, 1e-2, 36.0204, 1e-3),
]


def parity_fixture():
    """diffusers' test loops, quirk included: they assign `sample = scheduler.scale_model_input(sample, t)` and pass
    that scaled sample to `step` (a pipeline passes the unscaled one). 10 steps, T = 1100, linear 1e-4..0.02."""
    n = 10
    ancestral_noise = None
    out = []
    for name, cls, over, with_noise, want_sum, tol_sum, want_mean, tol_mean in PARITY:
        cfg = config(cls, LINEAR_1100, **over)
        s = make(cfg)
        s.set_timesteps(n)  # `scheduler.set_timesteps(self.num_inference_steps)`
        generator = torch.manual_seed(0)  # `generator = torch.manual_seed(0)`
        sample = dummy_sample_deter() * s.init_noise_sigma  # `sample = self.dummy_sample_deter * scheduler.init_noise_sigma`
        timesteps = s.timesteps
        if with_noise:
            t_start = n - 2  # `t_start = self.num_inference_steps - 2`
            noise = dummy_noise_deter()  # `noise = self.dummy_noise_deter`
            timesteps = s.timesteps[t_start * s.order:]  # `timesteps = scheduler.timesteps[t_start * scheduler.order :]`
            sample = s.add_noise(sample, noise, timesteps[:1])  # `sample = scheduler.add_noise(sample, noise, timesteps[:1])`
        noises = []
        for t in timesteps:  # `for i, t in enumerate(timesteps):`
            sample = s.scale_model_input(sample, t)  # `sample = scheduler.scale_model_input(sample, t)`
            model_output = dummy_model(sample, t)  # `model_output = model(sample, t)`
            z = None
            if cls == ANCESTRAL:
                # `randn_tensor(model_output.shape, dtype=..., generator=generator)` on the CPU is `torch.randn(shape, generator=generator)`
                z = torch.randn(model_output.shape, generator=generator, dtype=torch.float32)
                noises.append(z)
            sample, _x0, _ = s.step(model_output, t, sample, z, {})  # `output = scheduler.step(model_output, t, sample, generator=generator)`
        result_sum = torch.sum(torch.abs(sample)).item()  # `result_sum = torch.sum(torch.abs(sample))`
        result_mean = torch.mean(torch.abs(sample)).item()  # `result_mean = torch.mean(torch.abs(sample))`
        ok = abs(result_sum - want_sum) < tol_sum and abs(result_mean - want_mean) < tol_mean
        print(f'parity {name:22s} sum {result_sum:.6g} (diffusers {want_sum}) mean {result_mean:.6g} (diffusers {want_mean}) {"ok" if ok else "MISMATCH"}', file=sys.stderr)
        if not ok:
            raise SystemExit(f'{name}: the reference does not reproduce diffusers\' published numbers')
        if cls == ANCESTRAL and not with_noise and ancestral_noise is None:
            ancestral_noise = [f32list(z) for z in noises]  # torch.manual_seed(0) stream: the same for every ancestral test
        out.append(
            dict(
                name=name,
                config=cfg,
                num_inference_steps=n,
                with_noise=with_noise,
                sum=result_sum,
                mean=result_mean,
                published_sum=want_sum,
                published_sum_tolerance=tol_sum,
                published_mean=want_mean,
                published_mean_tolerance=tol_mean,
                final=f32list(sample),
            )
        )
    return out, ancestral_noise


# --------------------------------------------------------------------------------------------

def write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as fh:
        json.dump(obj, fh, separators=(',', ':'))
        fh.write('\n')
    print(f'wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes)', file=sys.stderr)


def betas_key(cfg):
    return f"{cfg['beta_schedule']}-{cfg['num_train_timesteps']}-{cfg['beta_start']}-{cfg['beta_end']}"


def torch_betas(cases):
    """torch's own float32 betas (before any rescale) of every schedule the fixture uses: torch.linspace's vectorised
    kernel rounds some entries 1 ulp away from the scalar formula difflab uses (see README), so the tests also run
    each case on these exact tables (as `trained_betas`), where only the sampler arithmetic is compared."""
    out = {}
    for cfg in cases:
        key = betas_key(cfg)
        if key not in out:
            plain = dict(cfg)
            plain['rescale_betas_zero_snr'] = False
            out[key] = f32list(make_betas(plain))
    return out


def main():
    tables = tables_fixture()
    loops, noise_sets = loops_fixture()
    parity, parity_noise = parity_fixture()
    write(
        OUT,
        dict(
            generator='tools/reference/sigma_samplers_reference.py',
            torch=torch.__version__,
            numpy=np.__version__,
            lms_quadrature=f'scipy.integrate.quad (scipy {scipy.__version__})' if HAVE_SCIPY else 'Gauss-Legendre 20-point, float64 (scipy missing)',
            lms_quad_neval_max=LMSState.neval_max,
            model='model(x, t) = x * t / (t + 1) in float32 (diffusers tests dummy_model)',
            x_unit=f32list(X_UNIT),
            shape=list(SHAPE),
            noise_sets=noise_sets,
            tables=tables,
            loops=loops,
            torch_betas=torch_betas([c['config'] for c in tables + loops + parity]),
            parity_shape=[4, 3, 8, 8],
            parity_ancestral_noise=parity_noise,
            parity=parity,
        ),
    )


if __name__ == '__main__':
    main()
