#!/usr/bin/python3
"""Independent PyTorch reference for the multistep samplers of @difflab/samplers.

Re-implements, in torch float32 exactly as diffusers computes them (diffusers itself is not
installed here), the parts of diffusers' `DPMSolverMultistepScheduler`, `PNDMScheduler` and
`UniPCMultistepScheduler` that difflab reproduces, runs full deterministic sampling loops with
diffusers' test dummy model and writes

  packages/samplers/src/__fixtures__/multistep-loops.json

which packages/samplers/src/multistep-torch-reference.test.ts compares against.

Run:  /usr/bin/python3 tools/reference/multistep_reference.py   (deterministic, a few seconds)

Sources followed (read through the code search; every diffusers line reproduced is quoted beside it):
  src/diffusers/schedulers/scheduling_dpmsolver_multistep.py
      step / convert_model_output / dpm_solver_first_order_update / multistep_dpm_solver_second_order_update /
      multistep_dpm_solver_third_order_update / _threshold_sample / _sigma_to_t / _sigma_to_alpha_sigma_t /
      _convert_to_karras / _convert_to_lu / index_for_timestep / add_noise: huggingface/diffusers@012687d689a1
      (v0.27 era); these are unchanged on main (2025). set_timesteps: as on main (2025), which differs from
      012687d in one place: Karras / Lu timesteps are `.round()`ed only when beta_schedule != "squaredcos_cap_v2"
      (for the cosine schedule the float timesteps are truncated by `.to(dtype=torch.int64)`). Neither version
      removes duplicate timesteps (diffusers <= 0.25 did, with np.unique).
  src/diffusers/schedulers/scheduling_pndm.py  (main: timestep_spacing, prediction_type epsilon / v_prediction)
  src/diffusers/schedulers/scheduling_unipc_multistep.py  (main, commit 0047da10a201)
  tests/schedulers/test_schedulers.py  -- dummy_model `sample * t / (t + 1)`, dummy_sample_deter
  tests/schedulers/test_scheduler_dpm_multi.py, test_scheduler_pndm.py, test_scheduler_unipc.py -- the published
      full-loop numbers, which `published_checks()` reproduces before anything is written.

Each loop runs twice: in float32 (the diffusers numbers) and in float64 on the same float32 tables and
the same float32 sigmas, which shows how far float32 rounding alone moves a value (the JS test allows
twice that gap on top of its tolerance).

Float formatting: float32 values are written with the shortest decimal that round-trips a float32
(numpy's repr), so Math.fround(JSON value) in JS is exactly the torch value. The float64 run is written
as `*_gap` arrays: |float32 value - float64 value| rounded up to 2 significant digits.
"""

import json
import math
import os
import sys

import numpy as np
import torch

torch.set_num_threads(1)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
OUT = os.path.join(ROOT, 'packages', 'samplers', 'src', '__fixtures__', 'multistep-loops.json')


# --------------------------------------------------------------------------------------------
# Schedules (identical __init__ code in the three schedulers)
# --------------------------------------------------------------------------------------------

def betas_for_alpha_bar(num_diffusion_timesteps, max_beta=0.999):
    """diffusers `betas_for_alpha_bar(..., alpha_transform_type="cosine")`."""

    def alpha_bar_fn(t):
        # `return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2`
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = []
    for i in range(num_diffusion_timesteps):
        t1 = i / num_diffusion_timesteps  # `t1 = i / num_diffusion_timesteps`
        t2 = (i + 1) / num_diffusion_timesteps  # `t2 = (i + 1) / num_diffusion_timesteps`
        # `betas.append(min(1 - alpha_bar_fn(t2) / alpha_bar_fn(t1), max_beta))`
        betas.append(min(1 - alpha_bar_fn(t2) / alpha_bar_fn(t1), max_beta))
    return torch.tensor(betas, dtype=torch.float32)  # `return torch.tensor(betas, dtype=torch.float32)`


def rescale_zero_terminal_snr(betas):
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
    return 1 - alphas  # `betas = 1 - alphas`


def linspace_f32_scalar(start, end, n):
    """difflab's `linspaceF32` (packages/schedulers/src/float32.ts): torch.linspace's scalar formula, every
    operation rounded to float32. torch's vectorised kernel rounds some entries one ulp differently; used only
    to measure how much those table ulps move each loop (`table_sensitivity`)."""
    f = np.float32
    s, e = f(start), f(end)
    step = f(float(f(float(e) - float(s))) / (n - 1))
    half = n // 2
    out = [f(float(s) + float(f(float(step) * i))) if i < half else f(float(e) - float(f(float(step) * (n - 1 - i)))) for i in range(n)]
    return torch.tensor(np.array(out, dtype=np.float32))


def make_betas(cfg, scalar_linspace=False):
    """The betas of `__init__`, before `rescale_zero_terminal_snr`."""
    T, b0, b1 = cfg['num_train_timesteps'], cfg['beta_start'], cfg['beta_end']
    linspace = (lambda a, b, n: linspace_f32_scalar(a, b, n)) if scalar_linspace else (lambda a, b, n: torch.linspace(a, b, n, dtype=torch.float32))
    if cfg.get('trained_betas') is not None:
        # `self.betas = torch.tensor(trained_betas, dtype=torch.float32)`
        return torch.tensor(cfg['trained_betas'], dtype=torch.float32)
    if cfg['beta_schedule'] == 'linear':
        # `self.betas = torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float32)`
        return linspace(b0, b1, T)
    if cfg['beta_schedule'] == 'scaled_linear':
        # `self.betas = torch.linspace(beta_start**0.5, beta_end**0.5, num_train_timesteps, dtype=torch.float32) ** 2`
        return linspace(b0 ** 0.5, b1 ** 0.5, T) ** 2
    if cfg['beta_schedule'] == 'squaredcos_cap_v2':
        return betas_for_alpha_bar(T)  # `self.betas = betas_for_alpha_bar(num_train_timesteps)`
    raise ValueError(cfg['beta_schedule'])


def make_alphas_cumprod(cfg, zero_snr_floor, scalar_linspace=False):
    betas = make_betas(cfg, scalar_linspace)
    if cfg.get('rescale_betas_zero_snr', False):
        betas = rescale_zero_terminal_snr(betas)  # `self.betas = rescale_zero_terminal_snr(self.betas)`
    alphas = 1.0 - betas  # `self.alphas = 1.0 - self.betas`
    alphas_cumprod = torch.cumprod(alphas, dim=0)  # `self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)`
    if zero_snr_floor and cfg.get('rescale_betas_zero_snr', False):
        # DPMSolverMultistep / UniPC only: `self.alphas_cumprod[-1] = 2**-24`
        alphas_cumprod[-1] = 2 ** -24
    return alphas_cumprod


# --------------------------------------------------------------------------------------------
# Helpers shared by DPMSolverMultistepScheduler and UniPCMultistepScheduler
# --------------------------------------------------------------------------------------------

def threshold_sample(sample, ratio, max_value):
    """`_threshold_sample` (Copied from DDPMScheduler, identical in all three)."""
    dtype = sample.dtype  # `dtype = sample.dtype`
    batch_size, channels, *remaining_dims = sample.shape  # `batch_size, channels, *remaining_dims = sample.shape`
    # `sample = sample.reshape(batch_size, channels * np.prod(remaining_dims))`
    sample = sample.reshape(batch_size, channels * int(np.prod(remaining_dims)))
    abs_sample = sample.abs()  # `abs_sample = sample.abs()  # "a certain percentile absolute pixel value"`
    # `s = torch.quantile(abs_sample, self.config.dynamic_thresholding_ratio, dim=1)`
    s = torch.quantile(abs_sample, ratio, dim=1)
    s = torch.clamp(s, min=1, max=max_value)  # `s = torch.clamp(s, min=1, max=self.config.sample_max_value)`
    s = s.unsqueeze(1)  # `s = s.unsqueeze(1)  # (batch_size, 1) because clamp will broadcast along dim=0`
    sample = torch.clamp(sample, -s, s) / s  # `sample = torch.clamp(sample, -s, s) / s`
    sample = sample.reshape(batch_size, channels, *remaining_dims)  # `sample = sample.reshape(batch_size, channels, *remaining_dims)`
    return sample.to(dtype)  # `sample = sample.to(dtype)`


def sigma_to_t(sigma, log_sigmas):
    """`_sigma_to_t` (Copied from EulerDiscreteScheduler). Under numpy 1.24's value-based casting
    `log_sigma - log_sigmas[:, np.newaxis]` is float32 (log_sigmas is a float32 array), and so is `w`
    (`low` / `high` are float32 arrays of shape (1,)); only `(1 - w) * low_idx + w * high_idx` is float64."""
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
    return t.reshape(sigma.shape)  # `t = t.reshape(sigma.shape)`


def convert_to_karras(in_sigmas, num_inference_steps):
    """`_convert_to_karras` (the config has no sigma_min / sigma_max)."""
    sigma_min = in_sigmas[-1].item()  # `sigma_min = sigma_min if sigma_min is not None else in_sigmas[-1].item()`
    sigma_max = in_sigmas[0].item()  # `sigma_max = sigma_max if sigma_max is not None else in_sigmas[0].item()`
    rho = 7.0  # `rho = 7.0  # 7.0 is the value used in the paper`
    ramp = np.linspace(0, 1, num_inference_steps)  # `ramp = np.linspace(0, 1, num_inference_steps)`
    min_inv_rho = sigma_min ** (1 / rho)  # `min_inv_rho = sigma_min ** (1 / rho)`
    max_inv_rho = sigma_max ** (1 / rho)  # `max_inv_rho = sigma_max ** (1 / rho)`
    # `sigmas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho`
    return (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho


def convert_to_lu(in_lambdas, num_inference_steps):
    """`_convert_to_lu`."""
    lambda_min = in_lambdas[-1].item()  # `lambda_min: float = in_lambdas[-1].item()`
    lambda_max = in_lambdas[0].item()  # `lambda_max: float = in_lambdas[0].item()`
    rho = 1.0  # `rho = 1.0  # 1.0 is the value used in the paper`
    ramp = np.linspace(0, 1, num_inference_steps)  # `ramp = np.linspace(0, 1, num_inference_steps)`
    min_inv_rho = lambda_min ** (1 / rho)  # `min_inv_rho = lambda_min ** (1 / rho)`
    max_inv_rho = lambda_max ** (1 / rho)  # `max_inv_rho = lambda_max ** (1 / rho)`
    # `lambdas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho`
    return (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho


def sigma_to_alpha_sigma_t(sigma):
    alpha_t = 1 / ((sigma ** 2 + 1) ** 0.5)  # `alpha_t = 1 / ((sigma**2 + 1) ** 0.5)`
    sigma_t = sigma * alpha_t  # `sigma_t = sigma * alpha_t`
    return alpha_t, sigma_t


def sigma_timesteps(cfg, alphas_cumprod, n, lambda_t=None):
    """The shared `set_timesteps` of DPMSolverMultistepScheduler (with lambda_min_clipped) and
    UniPCMultistepScheduler (lambda_t None: last_timestep = num_train_timesteps, Karras timesteps always
    rounded, 'sigma_min' after Karras sigmas = the last Karras sigma). Returns int timesteps and float32
    sigmas (n + 1 entries)."""
    T = cfg['num_train_timesteps']
    if lambda_t is not None:
        # `clipped_idx = torch.searchsorted(torch.flip(self.lambda_t, [0]), self.config.lambda_min_clipped)`
        clipped_idx = torch.searchsorted(torch.flip(lambda_t, [0]), cfg['lambda_min_clipped'])
        # `last_timestep = ((self.config.num_train_timesteps - clipped_idx).numpy()).item()`
        last_timestep = ((T - clipped_idx).numpy()).item()
    else:
        last_timestep = T  # UniPC: `np.linspace(0, self.config.num_train_timesteps - 1, ...)` etc.
    spacing = cfg['timestep_spacing']
    if spacing == 'linspace':
        # `np.linspace(0, last_timestep - 1, num_inference_steps + 1).round()[::-1][:-1].copy().astype(np.int64)`
        timesteps = np.linspace(0, last_timestep - 1, n + 1).round()[::-1][:-1].copy().astype(np.int64)
    elif spacing == 'leading':
        step_ratio = last_timestep // (n + 1)  # `step_ratio = last_timestep // (num_inference_steps + 1)`
        # `(np.arange(0, num_inference_steps + 1) * step_ratio).round()[::-1][:-1].copy().astype(np.int64)`
        timesteps = (np.arange(0, n + 1) * step_ratio).round()[::-1][:-1].copy().astype(np.int64)
        timesteps += cfg['steps_offset']  # `timesteps += self.config.steps_offset`
    elif spacing == 'trailing':
        step_ratio = T / n  # `step_ratio = self.config.num_train_timesteps / num_inference_steps`
        # `timesteps = np.arange(last_timestep, 0, -step_ratio).round().copy().astype(np.int64)`
        timesteps = np.arange(last_timestep, 0, -step_ratio).round().copy().astype(np.int64)
        timesteps -= 1  # `timesteps -= 1`
    else:
        raise ValueError(spacing)

    # `sigmas = np.array(((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5)`
    sigmas = np.array(((1 - alphas_cumprod) / alphas_cumprod) ** 0.5)
    log_sigmas = np.log(sigmas)  # `log_sigmas = np.log(sigmas)`
    # DPMSolverMultistep (main) leaves squaredcos_cap_v2 Karras / Lu timesteps unrounded; UniPC rounds them
    cosine = cfg['beta_schedule'] == 'squaredcos_cap_v2' and lambda_t is not None
    if cfg['use_karras_sigmas']:
        sigmas = np.flip(sigmas).copy()  # `sigmas = np.flip(sigmas).copy()`
        # `sigmas = self._convert_to_karras(in_sigmas=sigmas, num_inference_steps=num_inference_steps)`
        sigmas = convert_to_karras(sigmas, n)
        # `timesteps = np.array([self._sigma_to_t(sigma, log_sigmas) for sigma in sigmas])`
        timesteps = np.array([sigma_to_t(sigma, log_sigmas) for sigma in sigmas])
        if not cosine:  # DPM: `if self.config.beta_schedule != "squaredcos_cap_v2":`; UniPC: always
            timesteps = timesteps.round()  # `timesteps = timesteps.round()`
    elif cfg.get('use_lu_lambdas', False):
        lambdas = np.flip(log_sigmas.copy())  # `lambdas = np.flip(log_sigmas.copy())`
        # `lambdas = self._convert_to_lu(in_lambdas=lambdas, num_inference_steps=num_inference_steps)`
        lambdas = convert_to_lu(lambdas, n)
        sigmas = np.exp(lambdas)  # `sigmas = np.exp(lambdas)`
        # `timesteps = np.array([self._sigma_to_t(sigma, log_sigmas) for sigma in sigmas])`
        timesteps = np.array([sigma_to_t(sigma, log_sigmas) for sigma in sigmas])
        if not cosine:  # `if self.config.beta_schedule != "squaredcos_cap_v2":`
            timesteps = timesteps.round()  # `timesteps = timesteps.round()`
    else:
        # `sigmas = np.interp(timesteps, np.arange(0, len(sigmas)), sigmas)`
        sigmas = np.interp(timesteps, np.arange(0, len(sigmas)), sigmas)

    if cfg['final_sigmas_type'] == 'sigma_min':
        # `sigma_last = ((1 - self.alphas_cumprod[0]) / self.alphas_cumprod[0]) ** 0.5`
        sigma_last = ((1 - alphas_cumprod[0]) / alphas_cumprod[0]) ** 0.5
        if lambda_t is None and cfg['use_karras_sigmas']:
            sigma_last = sigmas[-1]  # UniPC (main), Karras branch: `sigma_last = sigmas[-1]`
    elif cfg['final_sigmas_type'] == 'zero':
        sigma_last = 0  # `sigma_last = 0`
    else:
        raise ValueError(cfg['final_sigmas_type'])
    # `sigmas = np.concatenate([sigmas, [sigma_last]]).astype(np.float32)`
    sigmas = np.concatenate([sigmas, [sigma_last]]).astype(np.float32)
    # `self.timesteps = torch.from_numpy(timesteps).to(device=device, dtype=torch.int64)`
    timesteps = torch.from_numpy(np.asarray(timesteps)).to(dtype=torch.int64)
    return timesteps, torch.from_numpy(sigmas)


def index_for_timestep(timesteps, timestep):
    """`index_for_timestep`: the second of duplicated timesteps, the last index when absent."""
    index_candidates = (timesteps == timestep).nonzero()  # `index_candidates = (schedule_timesteps == timestep).nonzero()`
    if len(index_candidates) == 0:  # `if len(index_candidates) == 0:`
        return len(timesteps) - 1  # `step_index = len(self.timesteps) - 1`
    if len(index_candidates) > 1:  # `elif len(index_candidates) > 1:`
        return index_candidates[1].item()  # `step_index = index_candidates[1].item()`
    return index_candidates[0].item()  # `step_index = index_candidates[0].item()`


# --------------------------------------------------------------------------------------------
# DPMSolverMultistepScheduler
# --------------------------------------------------------------------------------------------

class DPMSolverMultistep:
    def __init__(self, cfg, dtype, scalar_linspace=False):
        self.cfg = cfg
        self.dtype = dtype
        self.alphas_cumprod = make_alphas_cumprod(cfg, zero_snr_floor=True, scalar_linspace=scalar_linspace)
        self.alpha_t = torch.sqrt(self.alphas_cumprod)  # `self.alpha_t = torch.sqrt(self.alphas_cumprod)`
        self.sigma_t = torch.sqrt(1 - self.alphas_cumprod)  # `self.sigma_t = torch.sqrt(1 - self.alphas_cumprod)`
        # `self.lambda_t = torch.log(self.alpha_t) - torch.log(self.sigma_t)`
        self.lambda_t = torch.log(self.alpha_t) - torch.log(self.sigma_t)
        if cfg['algorithm_type'] not in ('dpmsolver++', 'dpmsolver'):
            raise ValueError(cfg['algorithm_type'])
        # `if algorithm_type not in ["dpmsolver++", "sde-dpmsolver++"] and final_sigmas_type == "zero": raise ValueError`
        assert not (cfg['algorithm_type'] == 'dpmsolver' and cfg['final_sigmas_type'] == 'zero')

    def set_timesteps(self, n):
        self.timesteps, sigmas = sigma_timesteps(self.cfg, self.alphas_cumprod, n, self.lambda_t)
        self.sigmas = sigmas.to(self.dtype)  # float64 run: the same float32 sigmas, float64 arithmetic
        self.num_inference_steps = len(self.timesteps)  # `self.num_inference_steps = len(timesteps)`
        self.model_outputs = [None] * self.cfg['solver_order']  # `self.model_outputs = [None,] * self.config.solver_order`
        self.lower_order_nums = 0  # `self.lower_order_nums = 0`
        self.step_index = None  # `self._step_index = None`

    def convert_model_output(self, model_output, sample):
        """Returns (converted output, x0 estimate); the x0 estimate is difflab's predOriginalSample."""
        cfg = self.cfg
        sigma = self.sigmas[self.step_index]  # `sigma = self.sigmas[self.step_index]`
        alpha_t, sigma_t = sigma_to_alpha_sigma_t(sigma)  # `alpha_t, sigma_t = self._sigma_to_alpha_sigma_t(sigma)`
        if cfg['algorithm_type'] == 'dpmsolver++':
            if cfg['prediction_type'] == 'epsilon':
                x0_pred = (sample - sigma_t * model_output) / alpha_t  # `x0_pred = (sample - sigma_t * model_output) / alpha_t`
            elif cfg['prediction_type'] == 'sample':
                x0_pred = model_output  # `x0_pred = model_output`
            elif cfg['prediction_type'] == 'v_prediction':
                x0_pred = alpha_t * sample - sigma_t * model_output  # `x0_pred = alpha_t * sample - sigma_t * model_output`
            else:
                raise ValueError(cfg['prediction_type'])
            if cfg['thresholding']:
                x0_pred = threshold_sample(x0_pred, cfg['dynamic_thresholding_ratio'], cfg['sample_max_value'])  # `x0_pred = self._threshold_sample(x0_pred)`
            return x0_pred, x0_pred
        # `elif self.config.algorithm_type in ["dpmsolver", "sde-dpmsolver"]:`
        if cfg['prediction_type'] == 'epsilon':
            epsilon = model_output  # `epsilon = model_output`
        elif cfg['prediction_type'] == 'sample':
            epsilon = (sample - alpha_t * model_output) / sigma_t  # `epsilon = (sample - alpha_t * model_output) / sigma_t`
        elif cfg['prediction_type'] == 'v_prediction':
            epsilon = alpha_t * model_output + sigma_t * sample  # `epsilon = alpha_t * model_output + sigma_t * sample`
        else:
            raise ValueError(cfg['prediction_type'])
        # difflab's x0 estimate for 'dpmsolver' (diffusers computes this line only under thresholding)
        x0_pred = (sample - sigma_t * epsilon) / alpha_t  # `x0_pred = (sample - sigma_t * epsilon) / alpha_t`
        if cfg['thresholding']:
            x0_pred = threshold_sample(x0_pred, cfg['dynamic_thresholding_ratio'], cfg['sample_max_value'])  # `x0_pred = self._threshold_sample(x0_pred)`
            epsilon = (sample - alpha_t * x0_pred) / sigma_t  # `epsilon = (sample - alpha_t * x0_pred) / sigma_t`
        return epsilon, x0_pred

    def first_order_update(self, model_output, sample):
        i = self.step_index
        # `sigma_t, sigma_s = self.sigmas[self.step_index + 1], self.sigmas[self.step_index]`
        sigma_t, sigma_s = self.sigmas[i + 1], self.sigmas[i]
        alpha_t, sigma_t = sigma_to_alpha_sigma_t(sigma_t)  # `alpha_t, sigma_t = self._sigma_to_alpha_sigma_t(sigma_t)`
        alpha_s, sigma_s = sigma_to_alpha_sigma_t(sigma_s)  # `alpha_s, sigma_s = self._sigma_to_alpha_sigma_t(sigma_s)`
        lambda_t = torch.log(alpha_t) - torch.log(sigma_t)  # `lambda_t = torch.log(alpha_t) - torch.log(sigma_t)`
        lambda_s = torch.log(alpha_s) - torch.log(sigma_s)  # `lambda_s = torch.log(alpha_s) - torch.log(sigma_s)`
        h = lambda_t - lambda_s  # `h = lambda_t - lambda_s`
        if self.cfg['algorithm_type'] == 'dpmsolver++':
            # `x_t = (sigma_t / sigma_s) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * model_output`
            return (sigma_t / sigma_s) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * model_output
        # `x_t = (alpha_t / alpha_s) * sample - (sigma_t * (torch.exp(h) - 1.0)) * model_output`
        return (alpha_t / alpha_s) * sample - (sigma_t * (torch.exp(h) - 1.0)) * model_output

    def second_order_update(self, model_output_list, sample):
        i = self.step_index
        # `sigma_t, sigma_s0, sigma_s1 = (self.sigmas[self.step_index + 1], self.sigmas[self.step_index], self.sigmas[self.step_index - 1])`
        sigma_t, sigma_s0, sigma_s1 = self.sigmas[i + 1], self.sigmas[i], self.sigmas[i - 1]
        alpha_t, sigma_t = sigma_to_alpha_sigma_t(sigma_t)  # `alpha_t, sigma_t = self._sigma_to_alpha_sigma_t(sigma_t)`
        alpha_s0, sigma_s0 = sigma_to_alpha_sigma_t(sigma_s0)  # `alpha_s0, sigma_s0 = self._sigma_to_alpha_sigma_t(sigma_s0)`
        alpha_s1, sigma_s1 = sigma_to_alpha_sigma_t(sigma_s1)  # `alpha_s1, sigma_s1 = self._sigma_to_alpha_sigma_t(sigma_s1)`
        lambda_t = torch.log(alpha_t) - torch.log(sigma_t)  # `lambda_t = torch.log(alpha_t) - torch.log(sigma_t)`
        lambda_s0 = torch.log(alpha_s0) - torch.log(sigma_s0)  # `lambda_s0 = torch.log(alpha_s0) - torch.log(sigma_s0)`
        lambda_s1 = torch.log(alpha_s1) - torch.log(sigma_s1)  # `lambda_s1 = torch.log(alpha_s1) - torch.log(sigma_s1)`
        m0, m1 = model_output_list[-1], model_output_list[-2]  # `m0, m1 = model_output_list[-1], model_output_list[-2]`
        h, h_0 = lambda_t - lambda_s0, lambda_s0 - lambda_s1  # `h, h_0 = lambda_t - lambda_s0, lambda_s0 - lambda_s1`
        r0 = h_0 / h  # `r0 = h_0 / h`
        D0, D1 = m0, (1.0 / r0) * (m0 - m1)  # `D0, D1 = m0, (1.0 / r0) * (m0 - m1)`
        algo, solver = self.cfg['algorithm_type'], self.cfg['solver_type']
        if algo == 'dpmsolver++' and solver == 'midpoint':
            # `(sigma_t / sigma_s0) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * D0 - 0.5 * (alpha_t * (torch.exp(-h) - 1.0)) * D1`
            return (sigma_t / sigma_s0) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * D0 - 0.5 * (alpha_t * (torch.exp(-h) - 1.0)) * D1
        if algo == 'dpmsolver++' and solver == 'heun':
            # `(sigma_t / sigma_s0) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * D0 + (alpha_t * ((torch.exp(-h) - 1.0) / h + 1.0)) * D1`
            return (sigma_t / sigma_s0) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * D0 + (alpha_t * ((torch.exp(-h) - 1.0) / h + 1.0)) * D1
        if algo == 'dpmsolver' and solver == 'midpoint':
            # `(alpha_t / alpha_s0) * sample - (sigma_t * (torch.exp(h) - 1.0)) * D0 - 0.5 * (sigma_t * (torch.exp(h) - 1.0)) * D1`
            return (alpha_t / alpha_s0) * sample - (sigma_t * (torch.exp(h) - 1.0)) * D0 - 0.5 * (sigma_t * (torch.exp(h) - 1.0)) * D1
        # `(alpha_t / alpha_s0) * sample - (sigma_t * (torch.exp(h) - 1.0)) * D0 - (sigma_t * ((torch.exp(h) - 1.0) / h - 1.0)) * D1`
        return (alpha_t / alpha_s0) * sample - (sigma_t * (torch.exp(h) - 1.0)) * D0 - (sigma_t * ((torch.exp(h) - 1.0) / h - 1.0)) * D1

    def third_order_update(self, model_output_list, sample):
        i = self.step_index
        # `sigma_t, sigma_s0, sigma_s1, sigma_s2 = (self.sigmas[self.step_index + 1], ..., self.sigmas[self.step_index - 2])`
        sigma_t, sigma_s0, sigma_s1, sigma_s2 = self.sigmas[i + 1], self.sigmas[i], self.sigmas[i - 1], self.sigmas[i - 2]
        alpha_t, sigma_t = sigma_to_alpha_sigma_t(sigma_t)  # `alpha_t, sigma_t = self._sigma_to_alpha_sigma_t(sigma_t)`
        alpha_s0, sigma_s0 = sigma_to_alpha_sigma_t(sigma_s0)  # `alpha_s0, sigma_s0 = self._sigma_to_alpha_sigma_t(sigma_s0)`
        alpha_s1, sigma_s1 = sigma_to_alpha_sigma_t(sigma_s1)  # `alpha_s1, sigma_s1 = self._sigma_to_alpha_sigma_t(sigma_s1)`
        alpha_s2, sigma_s2 = sigma_to_alpha_sigma_t(sigma_s2)  # `alpha_s2, sigma_s2 = self._sigma_to_alpha_sigma_t(sigma_s2)`
        lambda_t = torch.log(alpha_t) - torch.log(sigma_t)  # `lambda_t = torch.log(alpha_t) - torch.log(sigma_t)`
        lambda_s0 = torch.log(alpha_s0) - torch.log(sigma_s0)  # `lambda_s0 = torch.log(alpha_s0) - torch.log(sigma_s0)`
        lambda_s1 = torch.log(alpha_s1) - torch.log(sigma_s1)  # `lambda_s1 = torch.log(alpha_s1) - torch.log(sigma_s1)`
        lambda_s2 = torch.log(alpha_s2) - torch.log(sigma_s2)  # `lambda_s2 = torch.log(alpha_s2) - torch.log(sigma_s2)`
        # `m0, m1, m2 = model_output_list[-1], model_output_list[-2], model_output_list[-3]`
        m0, m1, m2 = model_output_list[-1], model_output_list[-2], model_output_list[-3]
        # `h, h_0, h_1 = lambda_t - lambda_s0, lambda_s0 - lambda_s1, lambda_s1 - lambda_s2`
        h, h_0, h_1 = lambda_t - lambda_s0, lambda_s0 - lambda_s1, lambda_s1 - lambda_s2
        r0, r1 = h_0 / h, h_1 / h  # `r0, r1 = h_0 / h, h_1 / h`
        D0 = m0  # `D0 = m0`
        D1_0, D1_1 = (1.0 / r0) * (m0 - m1), (1.0 / r1) * (m1 - m2)  # `D1_0, D1_1 = (1.0 / r0) * (m0 - m1), (1.0 / r1) * (m1 - m2)`
        D1 = D1_0 + (r0 / (r0 + r1)) * (D1_0 - D1_1)  # `D1 = D1_0 + (r0 / (r0 + r1)) * (D1_0 - D1_1)`
        D2 = (1.0 / (r0 + r1)) * (D1_0 - D1_1)  # `D2 = (1.0 / (r0 + r1)) * (D1_0 - D1_1)`
        if self.cfg['algorithm_type'] == 'dpmsolver++':
            return (
                (sigma_t / sigma_s0) * sample  # `(sigma_t / sigma_s0) * sample`
                - (alpha_t * (torch.exp(-h) - 1.0)) * D0  # `- (alpha_t * (torch.exp(-h) - 1.0)) * D0`
                + (alpha_t * ((torch.exp(-h) - 1.0) / h + 1.0)) * D1  # `+ (alpha_t * ((torch.exp(-h) - 1.0) / h + 1.0)) * D1`
                - (alpha_t * ((torch.exp(-h) - 1.0 + h) / h ** 2 - 0.5)) * D2  # `- (alpha_t * ((torch.exp(-h) - 1.0 + h) / h**2 - 0.5)) * D2`
            )
        return (
            (alpha_t / alpha_s0) * sample  # `(alpha_t / alpha_s0) * sample`
            - (sigma_t * (torch.exp(h) - 1.0)) * D0  # `- (sigma_t * (torch.exp(h) - 1.0)) * D0`
            - (sigma_t * ((torch.exp(h) - 1.0) / h - 1.0)) * D1  # `- (sigma_t * ((torch.exp(h) - 1.0) / h - 1.0)) * D1`
            - (sigma_t * ((torch.exp(h) - 1.0 - h) / h ** 2 - 0.5)) * D2  # `- (sigma_t * ((torch.exp(h) - 1.0 - h) / h**2 - 0.5)) * D2`
        )

    def step(self, model_output, timestep, sample):
        cfg = self.cfg
        if self.step_index is None:  # `if self.step_index is None: self._init_step_index(timestep)`
            self.step_index = index_for_timestep(self.timesteps, timestep)
        n = len(self.timesteps)
        # `lower_order_final = (self.step_index == len(self.timesteps) - 1) and (self.config.euler_at_final or
        #  (self.config.lower_order_final and len(self.timesteps) < 15) or self.config.final_sigmas_type == "zero")`
        lower_order_final = (self.step_index == n - 1) and (
            cfg['euler_at_final'] or (cfg['lower_order_final'] and n < 15) or cfg['final_sigmas_type'] == 'zero'
        )
        # `lower_order_second = (self.step_index == len(self.timesteps) - 2) and self.config.lower_order_final and len(self.timesteps) < 15`
        lower_order_second = (self.step_index == n - 2) and cfg['lower_order_final'] and n < 15
        model_output, x0 = self.convert_model_output(model_output, sample)  # `model_output = self.convert_model_output(model_output, sample=sample)`
        for i in range(cfg['solver_order'] - 1):  # `for i in range(self.config.solver_order - 1):`
            self.model_outputs[i] = self.model_outputs[i + 1]  # `self.model_outputs[i] = self.model_outputs[i + 1]`
        self.model_outputs[-1] = model_output  # `self.model_outputs[-1] = model_output`
        # `if self.config.solver_order == 1 or self.lower_order_nums < 1 or lower_order_final:`
        if cfg['solver_order'] == 1 or self.lower_order_nums < 1 or lower_order_final:
            order = 1
            prev_sample = self.first_order_update(model_output, sample)
        # `elif self.config.solver_order == 2 or self.lower_order_nums < 2 or lower_order_second:`
        elif cfg['solver_order'] == 2 or self.lower_order_nums < 2 or lower_order_second:
            order = 2
            prev_sample = self.second_order_update(self.model_outputs, sample)
        else:
            order = 3
            prev_sample = self.third_order_update(self.model_outputs, sample)
        if self.lower_order_nums < cfg['solver_order']:  # `if self.lower_order_nums < self.config.solver_order:`
            self.lower_order_nums += 1  # `self.lower_order_nums += 1`
        self.step_index += 1  # `self._step_index += 1`
        return prev_sample, x0, order

    def add_noise(self, original_samples, noise, timestep):
        """`add_noise` with begin_index None: sigma at index_for_timestep, alpha_t x0 + sigma_t noise."""
        sigma = self.sigmas[index_for_timestep(self.timesteps, timestep)]  # `sigma = sigmas[step_indices].flatten()`
        alpha_t, sigma_t = sigma_to_alpha_sigma_t(sigma)  # `alpha_t, sigma_t = self._sigma_to_alpha_sigma_t(sigma)`
        return alpha_t * original_samples + sigma_t * noise  # `noisy_samples = alpha_t * original_samples + sigma_t * noise`


# --------------------------------------------------------------------------------------------
# PNDMScheduler
# --------------------------------------------------------------------------------------------

class PNDM:
    def __init__(self, cfg, dtype, scalar_linspace=False):
        self.cfg = cfg
        ac = make_alphas_cumprod(cfg, zero_snr_floor=False, scalar_linspace=scalar_linspace)
        self.alphas_cumprod = ac.to(dtype)
        # `self.final_alpha_cumprod = torch.tensor(1.0) if set_alpha_to_one else self.alphas_cumprod[0]`
        self.final_alpha_cumprod = (torch.tensor(1.0) if cfg['set_alpha_to_one'] else ac[0]).to(dtype)
        self.pndm_order = 4  # `self.pndm_order = 4`

    def set_timesteps(self, n):
        cfg, T = self.cfg, self.cfg['num_train_timesteps']
        self.num_inference_steps = n  # `self.num_inference_steps = num_inference_steps`
        if cfg['timestep_spacing'] == 'linspace':
            # `self._timesteps = (np.linspace(0, self.config.num_train_timesteps - 1, num_inference_steps).round().astype(np.int64))`
            self._timesteps = np.linspace(0, T - 1, n).round().astype(np.int64)
        elif cfg['timestep_spacing'] == 'leading':
            step_ratio = T // n  # `step_ratio = self.config.num_train_timesteps // self.num_inference_steps`
            self._timesteps = (np.arange(0, n) * step_ratio).round()  # `self._timesteps = (np.arange(0, num_inference_steps) * step_ratio).round()`
            self._timesteps += cfg['steps_offset']  # `self._timesteps += self.config.steps_offset`
        elif cfg['timestep_spacing'] == 'trailing':
            step_ratio = T / n  # `step_ratio = self.config.num_train_timesteps / self.num_inference_steps`
            # `self._timesteps = np.round(np.arange(self.config.num_train_timesteps, 0, -step_ratio))[::-1].astype(np.int64)`
            self._timesteps = np.round(np.arange(T, 0, -step_ratio))[::-1].astype(np.int64)
            self._timesteps -= 1  # `self._timesteps -= 1`
        else:
            raise ValueError(cfg['timestep_spacing'])
        if cfg['skip_prk_steps']:
            self.prk_timesteps = np.array([])  # `self.prk_timesteps = np.array([])`
            # `self.plms_timesteps = np.concatenate([self._timesteps[:-1], self._timesteps[-2:-1], self._timesteps[-1:]])[::-1].copy()`
            self.plms_timesteps = np.concatenate([self._timesteps[:-1], self._timesteps[-2:-1], self._timesteps[-1:]])[::-1].copy()
        else:
            # `prk_timesteps = np.array(self._timesteps[-self.pndm_order :]).repeat(2) + np.tile(
            #      np.array([0, self.config.num_train_timesteps // num_inference_steps // 2]), self.pndm_order)`
            prk_timesteps = np.array(self._timesteps[-self.pndm_order:]).repeat(2) + np.tile(np.array([0, T // n // 2]), self.pndm_order)
            # `self.prk_timesteps = (prk_timesteps[:-1].repeat(2)[1:-1])[::-1].copy()`
            self.prk_timesteps = (prk_timesteps[:-1].repeat(2)[1:-1])[::-1].copy()
            self.plms_timesteps = self._timesteps[:-3][::-1].copy()  # `self.plms_timesteps = self._timesteps[:-3][::-1].copy()`
        # `timesteps = np.concatenate([self.prk_timesteps, self.plms_timesteps]).astype(np.int64)`
        self.timesteps = [int(v) for v in np.concatenate([self.prk_timesteps, self.plms_timesteps]).astype(np.int64)]
        self.ets = []  # `self.ets = []`
        self.counter = 0  # `self.counter = 0`
        self.cur_model_output = 0  # `self.cur_model_output = 0`
        self.cur_sample = None

    def step(self, model_output, timestep, sample):
        # `if self.counter < len(self.prk_timesteps) and not self.config.skip_prk_steps:`
        if self.counter < len(self.prk_timesteps) and not self.cfg['skip_prk_steps']:
            return self.step_prk(model_output, timestep, sample)
        return self.step_plms(model_output, timestep, sample)

    def step_prk(self, model_output, timestep, sample):
        T, n = self.cfg['num_train_timesteps'], self.num_inference_steps
        # `diff_to_prev = 0 if self.counter % 2 else self.config.num_train_timesteps // self.num_inference_steps // 2`
        diff_to_prev = 0 if self.counter % 2 else T // n // 2
        prev_timestep = timestep - diff_to_prev  # `prev_timestep = timestep - diff_to_prev`
        timestep = int(self.prk_timesteps[self.counter // 4 * 4])  # `timestep = self.prk_timesteps[self.counter // 4 * 4]`
        if self.counter % 4 == 0:  # `if self.counter % 4 == 0:`
            self.cur_model_output += 1 / 6 * model_output  # `self.cur_model_output += 1 / 6 * model_output`
            self.ets.append(model_output)  # `self.ets.append(model_output)`
            self.cur_sample = sample  # `self.cur_sample = sample`
        elif (self.counter - 1) % 4 == 0:  # `elif (self.counter - 1) % 4 == 0:`
            self.cur_model_output += 1 / 3 * model_output  # `self.cur_model_output += 1 / 3 * model_output`
        elif (self.counter - 2) % 4 == 0:  # `elif (self.counter - 2) % 4 == 0:`
            self.cur_model_output += 1 / 3 * model_output  # `self.cur_model_output += 1 / 3 * model_output`
        elif (self.counter - 3) % 4 == 0:  # `elif (self.counter - 3) % 4 == 0:`
            model_output = self.cur_model_output + 1 / 6 * model_output  # `model_output = self.cur_model_output + 1 / 6 * model_output`
            self.cur_model_output = 0  # `self.cur_model_output = 0`
        # `cur_sample = self.cur_sample if self.cur_sample is not None else sample`
        cur_sample = self.cur_sample if self.cur_sample is not None else sample
        prev_sample = self._get_prev_sample(cur_sample, timestep, prev_timestep, model_output)  # `prev_sample = self._get_prev_sample(cur_sample, timestep, prev_timestep, model_output)`
        self.counter += 1  # `self.counter += 1`
        return prev_sample

    def step_plms(self, model_output, timestep, sample):
        T, n = self.cfg['num_train_timesteps'], self.num_inference_steps
        # `if not self.config.skip_prk_steps and len(self.ets) < 3: raise ValueError(...)`
        assert self.cfg['skip_prk_steps'] or len(self.ets) >= 3
        # `prev_timestep = timestep - self.config.num_train_timesteps // self.num_inference_steps`
        prev_timestep = timestep - T // n
        if self.counter != 1:  # `if self.counter != 1:`
            self.ets = self.ets[-3:]  # `self.ets = self.ets[-3:]`
            self.ets.append(model_output)  # `self.ets.append(model_output)`
        else:
            prev_timestep = timestep  # `prev_timestep = timestep`
            timestep = timestep + T // n  # `timestep = timestep + self.config.num_train_timesteps // self.num_inference_steps`
        if len(self.ets) == 1 and self.counter == 0:  # `if len(self.ets) == 1 and self.counter == 0:`
            model_output = model_output  # `model_output = model_output`
            self.cur_sample = sample  # `self.cur_sample = sample`
        elif len(self.ets) == 1 and self.counter == 1:  # `elif len(self.ets) == 1 and self.counter == 1:`
            model_output = (model_output + self.ets[-1]) / 2  # `model_output = (model_output + self.ets[-1]) / 2`
            sample = self.cur_sample  # `sample = self.cur_sample`
            self.cur_sample = None  # `self.cur_sample = None`
        elif len(self.ets) == 2:  # `elif len(self.ets) == 2:`
            model_output = (3 * self.ets[-1] - self.ets[-2]) / 2  # `model_output = (3 * self.ets[-1] - self.ets[-2]) / 2`
        elif len(self.ets) == 3:  # `elif len(self.ets) == 3:`
            # `model_output = (23 * self.ets[-1] - 16 * self.ets[-2] + 5 * self.ets[-3]) / 12`
            model_output = (23 * self.ets[-1] - 16 * self.ets[-2] + 5 * self.ets[-3]) / 12
        else:
            # `model_output = (1 / 24) * (55 * self.ets[-1] - 59 * self.ets[-2] + 37 * self.ets[-3] - 9 * self.ets[-4])`
            model_output = (1 / 24) * (55 * self.ets[-1] - 59 * self.ets[-2] + 37 * self.ets[-3] - 9 * self.ets[-4])
        prev_sample = self._get_prev_sample(sample, timestep, prev_timestep, model_output)  # `prev_sample = self._get_prev_sample(sample, timestep, prev_timestep, model_output)`
        self.counter += 1  # `self.counter += 1`
        return prev_sample

    def _get_prev_sample(self, sample, timestep, prev_timestep, model_output):
        alpha_prod_t = self.alphas_cumprod[timestep]  # `alpha_prod_t = self.alphas_cumprod[timestep]`
        # `alpha_prod_t_prev = self.alphas_cumprod[prev_timestep] if prev_timestep >= 0 else self.final_alpha_cumprod`
        alpha_prod_t_prev = self.alphas_cumprod[prev_timestep] if prev_timestep >= 0 else self.final_alpha_cumprod
        beta_prod_t = 1 - alpha_prod_t  # `beta_prod_t = 1 - alpha_prod_t`
        beta_prod_t_prev = 1 - alpha_prod_t_prev  # `beta_prod_t_prev = 1 - alpha_prod_t_prev`
        if self.cfg['prediction_type'] == 'v_prediction':  # `if self.config.prediction_type == "v_prediction":`
            # `model_output = (alpha_prod_t**0.5) * model_output + (beta_prod_t**0.5) * sample`
            model_output = (alpha_prod_t ** 0.5) * model_output + (beta_prod_t ** 0.5) * sample
        elif self.cfg['prediction_type'] != 'epsilon':
            raise ValueError(self.cfg['prediction_type'])
        sample_coeff = (alpha_prod_t_prev / alpha_prod_t) ** (0.5)  # `sample_coeff = (alpha_prod_t_prev / alpha_prod_t) ** (0.5)`
        # `model_output_denom_coeff = alpha_prod_t * beta_prod_t_prev ** (0.5) + (alpha_prod_t * beta_prod_t * alpha_prod_t_prev) ** (0.5)`
        model_output_denom_coeff = alpha_prod_t * beta_prod_t_prev ** (0.5) + (alpha_prod_t * beta_prod_t * alpha_prod_t_prev) ** (0.5)
        # `prev_sample = (sample_coeff * sample - (alpha_prod_t_prev - alpha_prod_t) * model_output / model_output_denom_coeff)`
        return sample_coeff * sample - (alpha_prod_t_prev - alpha_prod_t) * model_output / model_output_denom_coeff

    def x0_estimate(self, model_output, timestep, sample):
        """difflab's predOriginalSample for PNDM (diffusers returns none): x_0 from this call's raw model output
        at its own timestep, in float32 as DDIMScheduler.step writes it."""
        alpha_prod_t = self.alphas_cumprod[timestep]
        beta_prod_t = 1 - alpha_prod_t
        if self.cfg['prediction_type'] == 'epsilon':
            # DDIM: `pred_original_sample = (sample - beta_prod_t ** (0.5) * model_output) / alpha_prod_t ** (0.5)`
            return (sample - beta_prod_t ** (0.5) * model_output) / alpha_prod_t ** (0.5)
        # DDIM: `pred_original_sample = (alpha_prod_t**0.5) * sample - (beta_prod_t**0.5) * model_output`
        return (alpha_prod_t ** 0.5) * sample - (beta_prod_t ** 0.5) * model_output


# --------------------------------------------------------------------------------------------
# UniPCMultistepScheduler (main, huggingface/diffusers@0047da10a201)
# --------------------------------------------------------------------------------------------

class UniPCMultistep:
    def __init__(self, cfg, dtype, scalar_linspace=False):
        self.cfg = cfg
        self.dtype = dtype
        self.alphas_cumprod = make_alphas_cumprod(cfg, zero_snr_floor=True, scalar_linspace=scalar_linspace)
        self.predict_x0 = cfg['predict_x0']  # `self.predict_x0 = predict_x0`
        self.disable_corrector = cfg['disable_corrector']  # `self.disable_corrector = disable_corrector`
        assert cfg['solver_type'] in ('bh1', 'bh2')

    def set_timesteps(self, n):
        self.timesteps, sigmas = sigma_timesteps(self.cfg, self.alphas_cumprod, n, None)
        self.sigmas = sigmas.to(self.dtype)
        self.num_inference_steps = len(self.timesteps)  # `self.num_inference_steps = len(timesteps)`
        self.model_outputs = [None] * self.cfg['solver_order']  # `self.model_outputs = [None,] * self.config.solver_order`
        self.lower_order_nums = 0  # `self.lower_order_nums = 0`
        self.last_sample = None  # `self.last_sample = None`
        self.step_index = None  # `self._step_index = None`
        self.this_order = None

    def convert_model_output(self, model_output, sample):
        """Returns (converted output, x0 estimate); difflab's x0 estimate for predict_x0=False is (x - sigma eps) / alpha."""
        cfg = self.cfg
        sigma = self.sigmas[self.step_index]  # `sigma = self.sigmas[self.step_index]`
        alpha_t, sigma_t = sigma_to_alpha_sigma_t(sigma)  # `alpha_t, sigma_t = self._sigma_to_alpha_sigma_t(sigma)`
        if self.predict_x0:
            if cfg['prediction_type'] == 'epsilon':
                x0_pred = (sample - sigma_t * model_output) / alpha_t  # `x0_pred = (sample - sigma_t * model_output) / alpha_t`
            elif cfg['prediction_type'] == 'sample':
                x0_pred = model_output  # `x0_pred = model_output`
            elif cfg['prediction_type'] == 'v_prediction':
                x0_pred = alpha_t * sample - sigma_t * model_output  # `x0_pred = alpha_t * sample - sigma_t * model_output`
            else:
                raise ValueError(cfg['prediction_type'])
            if cfg['thresholding']:
                x0_pred = threshold_sample(x0_pred, cfg['dynamic_thresholding_ratio'], cfg['sample_max_value'])  # `x0_pred = self._threshold_sample(x0_pred)`
            return x0_pred, x0_pred
        if cfg['prediction_type'] == 'epsilon':
            epsilon = model_output  # `return model_output`
        elif cfg['prediction_type'] == 'sample':
            epsilon = (sample - alpha_t * model_output) / sigma_t  # `epsilon = (sample - alpha_t * model_output) / sigma_t`
        elif cfg['prediction_type'] == 'v_prediction':
            epsilon = alpha_t * model_output + sigma_t * sample  # `epsilon = alpha_t * model_output + sigma_t * sample`
        else:
            raise ValueError(cfg['prediction_type'])
        return epsilon, (sample - sigma_t * epsilon) / alpha_t

    def _rks_R_b(self, h, lambda_s0, index_of, order, m0, model_output_list):
        """The shared part of multistep_uni_p_bh_update / multistep_uni_c_bh_update (index_of(i): the sigma index si)."""
        rks = []
        D1s = []
        for i in range(1, order):  # `for i in range(1, order):`
            si = index_of(i)  # p: `si = self.step_index - i`; c: `si = self.step_index - (i + 1)`
            mi = model_output_list[-(i + 1)]  # `mi = model_output_list[-(i + 1)]`
            alpha_si, sigma_si = sigma_to_alpha_sigma_t(self.sigmas[si])  # `alpha_si, sigma_si = self._sigma_to_alpha_sigma_t(self.sigmas[si])`
            lambda_si = torch.log(alpha_si) - torch.log(sigma_si)  # `lambda_si = torch.log(alpha_si) - torch.log(sigma_si)`
            rk = (lambda_si - lambda_s0) / h  # `rk = (lambda_si - lambda_s0) / h`
            rks.append(rk)  # `rks.append(rk)`
            D1s.append((mi - m0) / rk)  # `D1s.append((mi - m0) / rk)`
        rks.append(1.0)  # `rks.append(1.0)`
        rks = torch.tensor(rks, dtype=self.dtype)  # `rks = torch.tensor(rks, device=device)`
        R = []
        b = []
        hh = -h if self.predict_x0 else h  # `hh = -h if self.predict_x0 else h`
        h_phi_1 = torch.expm1(hh)  # `h_phi_1 = torch.expm1(hh)  # h\phi_1(h) = e^h - 1`
        h_phi_k = h_phi_1 / hh - 1  # `h_phi_k = h_phi_1 / hh - 1`
        factorial_i = 1  # `factorial_i = 1`
        if self.cfg['solver_type'] == 'bh1':
            B_h = hh  # `B_h = hh`
        else:
            B_h = torch.expm1(hh)  # `B_h = torch.expm1(hh)`
        for i in range(1, order + 1):  # `for i in range(1, order + 1):`
            R.append(torch.pow(rks, i - 1))  # `R.append(torch.pow(rks, i - 1))`
            b.append(h_phi_k * factorial_i / B_h)  # `b.append(h_phi_k * factorial_i / B_h)`
            factorial_i *= i + 1  # `factorial_i *= i + 1`
            h_phi_k = h_phi_k / hh - 1 / factorial_i  # `h_phi_k = h_phi_k / hh - 1 / factorial_i`
        R = torch.stack(R)  # `R = torch.stack(R)`
        b = torch.tensor(b, dtype=self.dtype)  # `b = torch.tensor(b, device=device)`
        return D1s, R, b, h_phi_1, B_h

    def uni_p(self, sample, order):
        model_output_list = self.model_outputs  # `model_output_list = self.model_outputs`
        m0 = model_output_list[-1]  # `m0 = model_output_list[-1]`
        x = sample  # `x = sample`
        i0 = self.step_index
        # `sigma_t, sigma_s0 = self.sigmas[self.step_index + 1], self.sigmas[self.step_index]`
        sigma_t, sigma_s0 = self.sigmas[i0 + 1], self.sigmas[i0]
        alpha_t, sigma_t = sigma_to_alpha_sigma_t(sigma_t)  # `alpha_t, sigma_t = self._sigma_to_alpha_sigma_t(sigma_t)`
        alpha_s0, sigma_s0 = sigma_to_alpha_sigma_t(sigma_s0)  # `alpha_s0, sigma_s0 = self._sigma_to_alpha_sigma_t(sigma_s0)`
        lambda_t = torch.log(alpha_t) - torch.log(sigma_t)  # `lambda_t = torch.log(alpha_t) - torch.log(sigma_t)`
        lambda_s0 = torch.log(alpha_s0) - torch.log(sigma_s0)  # `lambda_s0 = torch.log(alpha_s0) - torch.log(sigma_s0)`
        h = lambda_t - lambda_s0  # `h = lambda_t - lambda_s0`
        D1s, R, b, h_phi_1, B_h = self._rks_R_b(h, lambda_s0, lambda i: i0 - i, order, m0, model_output_list)
        if len(D1s) > 0:  # `if len(D1s) > 0:`
            D1s = torch.stack(D1s, dim=1)  # `D1s = torch.stack(D1s, dim=1)  # (B, K)`
            if order == 2:  # `if order == 2:`
                rhos_p = torch.tensor([0.5], dtype=x.dtype)  # `rhos_p = torch.tensor([0.5], dtype=x.dtype, device=device)`
            else:
                rhos_p = torch.linalg.solve(R[:-1, :-1], b[:-1]).to(x.dtype)  # `rhos_p = torch.linalg.solve(R[:-1, :-1], b[:-1]).to(device).to(x.dtype)`
        else:
            D1s = None  # `D1s = None`
        if self.predict_x0:
            x_t_ = sigma_t / sigma_s0 * x - alpha_t * h_phi_1 * m0  # `x_t_ = sigma_t / sigma_s0 * x - alpha_t * h_phi_1 * m0`
            # `pred_res = torch.einsum("k,bkc...->bc...", rhos_p, D1s)` / `pred_res = 0`
            pred_res = torch.einsum('k,bkc...->bc...', rhos_p, D1s) if D1s is not None else 0
            x_t = x_t_ - alpha_t * B_h * pred_res  # `x_t = x_t_ - alpha_t * B_h * pred_res`
        else:
            x_t_ = alpha_t / alpha_s0 * x - sigma_t * h_phi_1 * m0  # `x_t_ = alpha_t / alpha_s0 * x - sigma_t * h_phi_1 * m0`
            pred_res = torch.einsum('k,bkc...->bc...', rhos_p, D1s) if D1s is not None else 0
            x_t = x_t_ - sigma_t * B_h * pred_res  # `x_t = x_t_ - sigma_t * B_h * pred_res`
        return x_t.to(x.dtype)  # `x_t = x_t.to(x.dtype)`

    def uni_c(self, this_model_output, last_sample, this_sample, order):
        model_output_list = self.model_outputs  # `model_output_list = self.model_outputs`
        m0 = model_output_list[-1]  # `m0 = model_output_list[-1]`
        x = last_sample  # `x = last_sample`
        model_t = this_model_output  # `model_t = this_model_output`
        i0 = self.step_index
        # `sigma_t, sigma_s0 = self.sigmas[self.step_index], self.sigmas[self.step_index - 1]`
        sigma_t, sigma_s0 = self.sigmas[i0], self.sigmas[i0 - 1]
        alpha_t, sigma_t = sigma_to_alpha_sigma_t(sigma_t)  # `alpha_t, sigma_t = self._sigma_to_alpha_sigma_t(sigma_t)`
        alpha_s0, sigma_s0 = sigma_to_alpha_sigma_t(sigma_s0)  # `alpha_s0, sigma_s0 = self._sigma_to_alpha_sigma_t(sigma_s0)`
        lambda_t = torch.log(alpha_t) - torch.log(sigma_t)  # `lambda_t = torch.log(alpha_t) - torch.log(sigma_t)`
        lambda_s0 = torch.log(alpha_s0) - torch.log(sigma_s0)  # `lambda_s0 = torch.log(alpha_s0) - torch.log(sigma_s0)`
        h = lambda_t - lambda_s0  # `h = lambda_t - lambda_s0`
        D1s, R, b, h_phi_1, B_h = self._rks_R_b(h, lambda_s0, lambda i: i0 - (i + 1), order, m0, model_output_list)
        D1s = torch.stack(D1s, dim=1) if len(D1s) > 0 else None  # `D1s = torch.stack(D1s, dim=1)` / `D1s = None`
        if order == 1:  # `if order == 1:`
            rhos_c = torch.tensor([0.5], dtype=x.dtype)  # `rhos_c = torch.tensor([0.5], dtype=x.dtype, device=device)`
        else:
            rhos_c = torch.linalg.solve(R, b).to(x.dtype)  # `rhos_c = torch.linalg.solve(R, b).to(device).to(x.dtype)`
        if self.predict_x0:
            x_t_ = sigma_t / sigma_s0 * x - alpha_t * h_phi_1 * m0  # `x_t_ = sigma_t / sigma_s0 * x - alpha_t * h_phi_1 * m0`
            # `corr_res = torch.einsum("k,bkc...->bc...", rhos_c[:-1], D1s)` / `corr_res = 0`
            corr_res = torch.einsum('k,bkc...->bc...', rhos_c[:-1], D1s) if D1s is not None else 0
            D1_t = model_t - m0  # `D1_t = model_t - m0`
            x_t = x_t_ - alpha_t * B_h * (corr_res + rhos_c[-1] * D1_t)  # `x_t = x_t_ - alpha_t * B_h * (corr_res + rhos_c[-1] * D1_t)`
        else:
            x_t_ = alpha_t / alpha_s0 * x - sigma_t * h_phi_1 * m0  # `x_t_ = alpha_t / alpha_s0 * x - sigma_t * h_phi_1 * m0`
            corr_res = torch.einsum('k,bkc...->bc...', rhos_c[:-1], D1s) if D1s is not None else 0
            D1_t = model_t - m0  # `D1_t = model_t - m0`
            x_t = x_t_ - sigma_t * B_h * (corr_res + rhos_c[-1] * D1_t)  # `x_t = x_t_ - sigma_t * B_h * (corr_res + rhos_c[-1] * D1_t)`
        return x_t.to(x.dtype)  # `x_t = x_t.to(x.dtype)`

    def step(self, model_output, timestep, sample):
        cfg = self.cfg
        if self.step_index is None:  # `if self.step_index is None: self._init_step_index(timestep)`
            self.step_index = index_for_timestep(self.timesteps, timestep)
        # `use_corrector = (self.step_index > 0 and self.step_index - 1 not in self.disable_corrector and self.last_sample is not None)`
        use_corrector = self.step_index > 0 and self.step_index - 1 not in self.disable_corrector and self.last_sample is not None
        model_output_convert, x0 = self.convert_model_output(model_output, sample)  # `model_output_convert = self.convert_model_output(model_output, sample=sample)`
        if use_corrector:  # `if use_corrector:`
            # `sample = self.multistep_uni_c_bh_update(this_model_output=model_output_convert, last_sample=self.last_sample, this_sample=sample, order=self.this_order)`
            sample = self.uni_c(model_output_convert, self.last_sample, sample, self.this_order)
        for i in range(cfg['solver_order'] - 1):  # `for i in range(self.config.solver_order - 1):`
            self.model_outputs[i] = self.model_outputs[i + 1]  # `self.model_outputs[i] = self.model_outputs[i + 1]`
        self.model_outputs[-1] = model_output_convert  # `self.model_outputs[-1] = model_output_convert`
        if cfg['lower_order_final']:  # `if self.config.lower_order_final:`
            this_order = min(cfg['solver_order'], len(self.timesteps) - self.step_index)  # `this_order = min(self.config.solver_order, len(self.timesteps) - self.step_index)`
        else:
            this_order = cfg['solver_order']  # `this_order = self.config.solver_order`
        self.this_order = min(this_order, self.lower_order_nums + 1)  # `self.this_order = min(this_order, self.lower_order_nums + 1)  # warmup for multistep`
        self.last_sample = sample  # `self.last_sample = sample`
        prev_sample = self.uni_p(sample, self.this_order)  # `prev_sample = self.multistep_uni_p_bh_update(model_output=model_output, sample=sample, order=self.this_order)`
        if self.lower_order_nums < cfg['solver_order']:  # `if self.lower_order_nums < self.config.solver_order:`
            self.lower_order_nums += 1  # `self.lower_order_nums += 1`
        self.step_index += 1  # `self._step_index += 1`
        return prev_sample, x0, (self.this_order, bool(use_corrector))

    # `# Copied from diffusers.schedulers.scheduling_dpmsolver_multistep.DPMSolverMultistepScheduler.add_noise`
    add_noise = DPMSolverMultistep.add_noise


# --------------------------------------------------------------------------------------------
# Loops and fixture
# --------------------------------------------------------------------------------------------

def dummy_model(sample, t, negate=False):
    """diffusers tests `dummy_model`: `t = t.reshape(-1, *(1,) * (num_dims - 1)).to(sample.device).to(sample.dtype)`
    then `return sample * t / (t + 1)` (t cast to the sample dtype). negate=True flips the sign (exact), which
    drives the epsilon-predicted x_0 far outside [-1, 1] so that thresholding has something to do."""
    tt = torch.tensor(float(t), dtype=sample.dtype)
    out = sample * tt / (tt + 1)
    return -out if negate else out


def dummy_sample_deter():
    """tests/schedulers/test_schedulers.py `dummy_sample_deter` ([4, 3, 8, 8])."""
    num_elems = 4 * 3 * 8 * 8  # `num_elems = batch_size * num_channels * height * width`
    sample = torch.arange(num_elems)  # `sample = torch.arange(num_elems)`
    sample = sample.reshape(3, 8, 8, 4)  # `sample = sample.reshape(num_channels, height, width, batch_size)`
    sample = sample / num_elems  # `sample = sample / num_elems`
    return sample.permute(3, 0, 1, 2)  # `sample = sample.permute(3, 0, 1, 2)`


def dummy_noise_deter():
    """tests/schedulers/test_schedulers.py `dummy_noise_deter` ([4, 3, 8, 8])."""
    num_elems = 4 * 3 * 8 * 8
    sample = torch.arange(num_elems).flip(-1)  # `sample = torch.arange(num_elems).flip(-1)`
    sample = sample.reshape(3, 8, 8, 4)  # `sample = sample.reshape(num_channels, height, width, batch_size)`
    sample = sample / num_elems  # `sample = sample / num_elems`
    return sample.permute(3, 0, 1, 2)  # `sample = sample.permute(3, 0, 1, 2)`


def small_sample():
    """A [4, 2, 4] x_T (diffusers' _threshold_sample needs >= 3 dims), N(0, 1) from a fixed generator."""
    g = torch.Generator().manual_seed(20240611)
    return torch.randn((4, 2, 4), generator=g, dtype=torch.float32)


X_T = {'small': small_sample(), 'deter': dummy_sample_deter().contiguous(), 'noise_deter': dummy_noise_deter().contiguous()}

LINEAR_1000 = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule='linear')
SPIRAL_50 = dict(num_train_timesteps=50, beta_start=0.0001, beta_end=0.2, beta_schedule='linear')
COSINE_1000 = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule='squaredcos_cap_v2')
SD_1000 = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule='scaled_linear')
ZSNR_1000 = dict(SD_1000, rescale_betas_zero_snr=True)


def dpm_cfg(sched=LINEAR_1000, **kw):
    """DPMSolverMultistepScheduler config with diffusers' defaults (all keys)."""
    c = dict(
        _class_name='DPMSolverMultistepScheduler',
        num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule='linear', trained_betas=None,
        solver_order=2, prediction_type='epsilon', thresholding=False, dynamic_thresholding_ratio=0.995,
        sample_max_value=1.0, algorithm_type='dpmsolver++', solver_type='midpoint', lower_order_final=True,
        euler_at_final=False, use_karras_sigmas=False, use_lu_lambdas=False, final_sigmas_type='zero',
        lambda_min_clipped=-math.inf, variance_type=None, timestep_spacing='linspace', steps_offset=0,
        rescale_betas_zero_snr=False,
    )
    c.update(sched)
    c.update(kw)
    return c


def pndm_cfg(sched=LINEAR_1000, **kw):
    """PNDMScheduler config with diffusers' defaults (all keys)."""
    c = dict(
        _class_name='PNDMScheduler',
        num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule='linear', trained_betas=None,
        skip_prk_steps=False, set_alpha_to_one=False, prediction_type='epsilon', timestep_spacing='leading',
        steps_offset=0,
    )
    c.update(sched)
    c.update(kw)
    return c


def unipc_cfg(sched=LINEAR_1000, **kw):
    """UniPCMultistepScheduler config with diffusers' defaults (all keys, main)."""
    c = dict(
        _class_name='UniPCMultistepScheduler',
        num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule='linear', trained_betas=None,
        solver_order=2, prediction_type='epsilon', thresholding=False, dynamic_thresholding_ratio=0.995,
        sample_max_value=1.0, predict_x0=True, solver_type='bh2', lower_order_final=True, disable_corrector=[],
        solver_p=None, use_karras_sigmas=False, use_exponential_sigmas=False, use_beta_sigmas=False,
        use_flow_sigmas=False, flow_shift=1.0, timestep_spacing='linspace', steps_offset=0, final_sigmas_type='zero',
        rescale_betas_zero_snr=False, use_dynamic_shifting=False, time_shift_type='exponential',
    )
    c.update(sched)
    c.update(kw)
    return c


# The configuration of diffusers' UniPCMultistepSchedulerTest.get_scheduler_config (main).
UNIPC_TEST = dict(solver_order=2, solver_type='bh2', final_sigmas_type='sigma_min')

# The configuration of diffusers' DPMSolverMultistepSchedulerTest.get_scheduler_config (main).
DPM_TEST = dict(solver_order=2, prediction_type='epsilon', thresholding=False, sample_max_value=1.0,
                algorithm_type='dpmsolver++', solver_type='midpoint', lower_order_final=False, euler_at_final=False,
                lambda_min_clipped=-math.inf, variance_type=None, final_sigmas_type='sigma_min')


def loop_cases():
    """(name, config, steps, x_T set, options). Options: negate (the negated dummy model)."""
    cases = []
    add = lambda name, cfg, steps, xs='small', **o: cases.append((name, cfg, steps, xs, o))
    # DPM-Solver++ / DPM-Solver: orders, solver types, prediction types, both step counts
    for steps in (10, 25):
        for order in (1, 2, 3):
            add(f'dpm-pp-o{order}-eps-{steps}', dpm_cfg(solver_order=order), steps)
        add(f'dpm-pp-o2-heun-{steps}', dpm_cfg(solver_type='heun'), steps)
        add(f'dpm-pp-o2-v-{steps}', dpm_cfg(prediction_type='v_prediction'), steps)
        add(f'dpm-pp-o3-v-{steps}', dpm_cfg(solver_order=3, prediction_type='v_prediction'), steps)
        for order in (1, 2, 3):
            add(f'dpm-dpmsolver-o{order}-eps-{steps}', dpm_cfg(algorithm_type='dpmsolver', solver_order=order, final_sigmas_type='sigma_min'), steps)
        add(f'dpm-dpmsolver-o2-heun-{steps}', dpm_cfg(algorithm_type='dpmsolver', solver_type='heun', final_sigmas_type='sigma_min'), steps)
        add(f'dpm-dpmsolver-o2-v-{steps}', dpm_cfg(algorithm_type='dpmsolver', prediction_type='v_prediction', final_sigmas_type='sigma_min'), steps)
        add(f'dpm-pp-o2-karras-{steps}', dpm_cfg(use_karras_sigmas=True), steps)
        add(f'dpm-pp-o3-karras-v-{steps}', dpm_cfg(solver_order=3, use_karras_sigmas=True, prediction_type='v_prediction'), steps)
        add(f'dpm-pp-o2-lu-{steps}', dpm_cfg(use_lu_lambdas=True), steps)
    add('dpm-pp-o2-sample-10', dpm_cfg(prediction_type='sample'), 10)
    add('dpm-dpmsolver-o3-sample-10', dpm_cfg(algorithm_type='dpmsolver', solver_order=3, prediction_type='sample', final_sigmas_type='sigma_min'), 10)
    add('dpm-dpmsolver-o2-lu-10', dpm_cfg(algorithm_type='dpmsolver', use_lu_lambdas=True, final_sigmas_type='sigma_min'), 10)
    add('dpm-pp-o2-sigmamin-10', dpm_cfg(final_sigmas_type='sigma_min'), 10)
    add('dpm-pp-o3-nolof-sigmamin-10', dpm_cfg(solver_order=3, lower_order_final=False, final_sigmas_type='sigma_min'), 10)
    add('dpm-pp-o2-euler-final-sigmamin-25', dpm_cfg(euler_at_final=True, final_sigmas_type='sigma_min'), 25)
    add('dpm-pp-o2-leading-offset1-10', dpm_cfg(timestep_spacing='leading', steps_offset=1), 10)
    add('dpm-pp-o2-trailing-25', dpm_cfg(timestep_spacing='trailing'), 25)
    # thresholding: the negated model pushes x_0 to |x| ~ 300 at high noise, so s > 1 and the clip bites
    add('dpm-pp-o2-thres-neg-10', dpm_cfg(thresholding=True, dynamic_thresholding_ratio=0.9, sample_max_value=3.0), 10, negate=True)
    add('dpm-pp-o3-thres-neg-25', dpm_cfg(solver_order=3, thresholding=True, dynamic_thresholding_ratio=0.8, sample_max_value=2.5), 25, negate=True)
    add('dpm-dpmsolver-o2-thres-neg-10', dpm_cfg(algorithm_type='dpmsolver', thresholding=True, dynamic_thresholding_ratio=0.9, sample_max_value=3.0, final_sigmas_type='sigma_min'), 10, negate=True)
    add('dpm-pp-o2-thres-v-25', dpm_cfg(prediction_type='v_prediction', thresholding=True, dynamic_thresholding_ratio=0.6, sample_max_value=1.2), 25)
    # schedules: cosine with lambda_min_clipped (and Karras: float timesteps truncated), SD scaled_linear + Karras,
    # zero terminal SNR (alphas_cumprod[-1] = 2**-24) + trailing + v, the spiral schedule T = 50
    add('dpm-cosine-clip-10', dpm_cfg(COSINE_1000, lambda_min_clipped=-5.1), 10)
    add('dpm-cosine-clip-trailing-25', dpm_cfg(COSINE_1000, lambda_min_clipped=-5.1, timestep_spacing='trailing'), 25)
    add('dpm-cosine-clip-leading-10', dpm_cfg(COSINE_1000, lambda_min_clipped=-5.1, timestep_spacing='leading'), 10)
    add('dpm-cosine-karras-25', dpm_cfg(COSINE_1000, use_karras_sigmas=True), 25)
    add('dpm-cosine-lu-10', dpm_cfg(COSINE_1000, use_lu_lambdas=True), 10)
    add('dpm-sd-karras-25', dpm_cfg(SD_1000, use_karras_sigmas=True), 25)
    add('dpm-zsnr-trailing-v-10', dpm_cfg(ZSNR_1000, timestep_spacing='trailing', prediction_type='v_prediction'), 10)
    add('dpm-spiral50-o2-10', dpm_cfg(SPIRAL_50), 10)
    add('dpm-spiral50-o3-25', dpm_cfg(SPIRAL_50, solver_order=3), 25)
    add('dpm-spiral50-karras-25', dpm_cfg(SPIRAL_50, use_karras_sigmas=True), 25)
    add('dpm-pp-o2-1step', dpm_cfg(), 1)
    add('dpm-pp-o3-2steps', dpm_cfg(solver_order=3), 2)
    # diffusers' published full loops (dummy_sample_deter, 10 steps, DPMSolverMultistepSchedulerTest config)
    add('dpm-diffusers-test-default', dpm_cfg(**DPM_TEST), 10, 'deter')
    add('dpm-diffusers-test-thres', dpm_cfg(**dict(DPM_TEST, thresholding=True, dynamic_thresholding_ratio=0.87, sample_max_value=0.5)), 10, 'deter')
    add('dpm-diffusers-test-v', dpm_cfg(**dict(DPM_TEST, prediction_type='v_prediction')), 10, 'deter')
    add('dpm-diffusers-test-karras-v', dpm_cfg(**dict(DPM_TEST, prediction_type='v_prediction', use_karras_sigmas=True)), 10, 'deter')
    add('dpm-diffusers-test-lu-v', dpm_cfg(**dict(DPM_TEST, prediction_type='v_prediction', use_lu_lambdas=True)), 10, 'deter')
    # test_full_loop_with_noise: add_noise at timesteps[5], then the loop from there (img2img start)
    add('dpm-diffusers-test-with-noise', dpm_cfg(**DPM_TEST), 10, 'deter', start=5)

    # PNDM: PRK warm-up and PLMS only, epsilon / v, set_alpha_to_one, spacings, steps_offset, other schedules
    for steps in (10, 25):
        add(f'pndm-prk-{steps}', pndm_cfg(), steps)
        add(f'pndm-plms-{steps}', pndm_cfg(skip_prk_steps=True), steps)
        add(f'pndm-prk-v-{steps}', pndm_cfg(prediction_type='v_prediction'), steps)
        add(f'pndm-plms-v-{steps}', pndm_cfg(skip_prk_steps=True, prediction_type='v_prediction'), steps)
    add('pndm-prk-alpha1-10', pndm_cfg(set_alpha_to_one=True), 10)
    add('pndm-plms-offset1-alpha0-10', pndm_cfg(skip_prk_steps=True, steps_offset=1), 10)
    add('pndm-prk-offset1-10', pndm_cfg(steps_offset=1), 10)
    add('pndm-prk-linspace-10', pndm_cfg(timestep_spacing='linspace'), 10)
    add('pndm-plms-trailing-25', pndm_cfg(skip_prk_steps=True, timestep_spacing='trailing'), 25)
    add('pndm-prk-cosine-25', pndm_cfg(COSINE_1000), 25)
    add('pndm-plms-sd-25', pndm_cfg(SD_1000, skip_prk_steps=True, steps_offset=1), 25)
    add('pndm-prk-spiral50-10', pndm_cfg(SPIRAL_50), 10)
    add('pndm-plms-spiral50-25', pndm_cfg(SPIRAL_50, skip_prk_steps=True), 25)
    add('pndm-plms-1step', pndm_cfg(skip_prk_steps=True), 1)
    # (PRK needs >= 4 steps: with fewer, diffusers' set_timesteps fails to broadcast the last 4 timesteps)
    add('pndm-prk-4steps', pndm_cfg(), 4)
    # diffusers' published full loops (PNDMSchedulerTest.full_loop: 10 steps, prk then plms)
    add('pndm-diffusers-test-default', pndm_cfg(), 10, 'deter')
    add('pndm-diffusers-test-v', pndm_cfg(prediction_type='v_prediction'), 10, 'deter')
    add('pndm-diffusers-test-alpha1', pndm_cfg(set_alpha_to_one=True, beta_start=0.01), 10, 'deter')
    add('pndm-diffusers-test-alpha0', pndm_cfg(set_alpha_to_one=False, beta_start=0.01), 10, 'deter')

    # UniPC: bh1 / bh2, predict_x0 on / off, orders 1-3, lower_order_final, disable_corrector, Karras, thresholding
    for steps in (10, 25):
        for order in (1, 2, 3):
            add(f'unipc-bh2-o{order}-eps-{steps}', unipc_cfg(solver_order=order), steps)
            # bh1 needs final_sigmas_type 'sigma_min': into sigma = 0, B(h) = hh = -inf and diffusers' last step is NaN
            add(f'unipc-bh1-o{order}-eps-{steps}', unipc_cfg(solver_order=order, solver_type='bh1', final_sigmas_type='sigma_min'), steps)
        add(f'unipc-bh2-o2-v-{steps}', unipc_cfg(prediction_type='v_prediction'), steps)
        add(f'unipc-noisepred-bh1-o2-{steps}', unipc_cfg(predict_x0=False, solver_type='bh1', final_sigmas_type='sigma_min'), steps)
        add(f'unipc-noisepred-bh2-o3-{steps}', unipc_cfg(predict_x0=False, solver_order=3, final_sigmas_type='sigma_min'), steps)
        add(f'unipc-bh2-o2-karras-{steps}', unipc_cfg(use_karras_sigmas=True), steps)
    add('unipc-bh2-o2-sample-10', unipc_cfg(prediction_type='sample'), 10)
    add('unipc-noisepred-v-10', unipc_cfg(predict_x0=False, prediction_type='v_prediction', final_sigmas_type='sigma_min'), 10)
    add('unipc-bh2-o3-nolof-sigmamin-10', unipc_cfg(solver_order=3, lower_order_final=False, final_sigmas_type='sigma_min'), 10)
    add('unipc-bh2-o2-disable-corrector-10', unipc_cfg(disable_corrector=[0, 3, 7]), 10)
    add('unipc-bh2-o3-karras-sigmamin-25', unipc_cfg(solver_order=3, use_karras_sigmas=True, final_sigmas_type='sigma_min'), 25)
    add('unipc-bh2-o2-thres-neg-10', unipc_cfg(thresholding=True, dynamic_thresholding_ratio=0.9, sample_max_value=3.0), 10, negate=True)
    add('unipc-bh1-o3-thres-v-25', unipc_cfg(solver_order=3, solver_type='bh1', prediction_type='v_prediction', thresholding=True, dynamic_thresholding_ratio=0.6, sample_max_value=1.2, final_sigmas_type='sigma_min'), 25)
    add('unipc-trailing-25', unipc_cfg(timestep_spacing='trailing'), 25)
    add('unipc-leading-offset1-10', unipc_cfg(timestep_spacing='leading', steps_offset=1), 10)
    add('unipc-cosine-25', unipc_cfg(COSINE_1000), 25)  # (with Karras sigmas the first timestep repeats and diffusers' loop overruns)
    add('unipc-zsnr-trailing-v-10', unipc_cfg(ZSNR_1000, timestep_spacing='trailing', prediction_type='v_prediction'), 10)
    add('unipc-spiral50-o3-25', unipc_cfg(SPIRAL_50, solver_order=3), 25)
    add('unipc-1step', unipc_cfg(), 1)
    add('unipc-diffusers-test-default', unipc_cfg(**UNIPC_TEST), 10, 'deter')
    add('unipc-diffusers-test-karras', unipc_cfg(**dict(UNIPC_TEST, use_karras_sigmas=True)), 10, 'deter')
    add('unipc-diffusers-test-v', unipc_cfg(**dict(UNIPC_TEST, prediction_type='v_prediction')), 10, 'deter')
    add('unipc-diffusers-test-karras-v', unipc_cfg(**dict(UNIPC_TEST, prediction_type='v_prediction', use_karras_sigmas=True)), 10, 'deter')
    add('unipc-diffusers-test-with-noise', unipc_cfg(**UNIPC_TEST), 10, 'deter', start=8)
    return cases


# diffusers' published numbers for the `*-diffusers-test-*` loops: mean |x| (and sum |x|) of the final sample
PUBLISHED = {
    'dpm-diffusers-test-default': dict(mean=0.3301),  # test_full_loop_no_noise
    'dpm-diffusers-test-thres': dict(mean=1.1364),  # test_full_loop_no_noise_thres
    'dpm-diffusers-test-v': dict(mean=0.2251),  # test_full_loop_with_v_prediction
    'dpm-diffusers-test-karras-v': dict(mean=0.2096),  # test_full_loop_with_karras_and_v_prediction
    'dpm-diffusers-test-lu-v': dict(mean=0.1554),  # test_full_loop_with_lu_and_v_prediction
    'pndm-diffusers-test-default': dict(sum=198.1318, mean=0.2580),  # test_full_loop_no_noise
    'pndm-diffusers-test-v': dict(sum=67.3986, mean=0.0878),  # test_full_loop_with_v_prediction
    'pndm-diffusers-test-alpha1': dict(sum=230.0399, mean=0.2995),  # test_full_loop_with_set_alpha_to_one
    'pndm-diffusers-test-alpha0': dict(sum=186.9482, mean=0.2434),  # test_full_loop_with_no_set_alpha_to_one
    'dpm-diffusers-test-with-noise': dict(sum=318.4111, mean=0.4146),  # test_full_loop_with_noise
    'unipc-diffusers-test-default': dict(mean=0.2464),  # test_full_loop_no_noise
    'unipc-diffusers-test-karras': dict(mean=0.2925),  # test_full_loop_with_karras
    'unipc-diffusers-test-v': dict(mean=0.1014),  # test_full_loop_with_v_prediction
    'unipc-diffusers-test-karras-v': dict(mean=0.1966),  # test_full_loop_with_karras_and_v_prediction
    'unipc-diffusers-test-with-noise': dict(sum=315.5757, mean=0.4109),  # test_full_loop_with_noise
}


def make_scheduler(cfg, dtype, scalar_linspace=False):
    cls = cfg['_class_name']
    if cls == 'DPMSolverMultistepScheduler':
        return DPMSolverMultistep(cfg, dtype, scalar_linspace)
    if cls == 'PNDMScheduler':
        return PNDM(cfg, dtype, scalar_linspace)
    if cls == 'UniPCMultistepScheduler':
        return UniPCMultistep(cfg, dtype, scalar_linspace)
    raise ValueError(cls)


def run_loop(cfg, steps, xs, opts, dtype, scalar_linspace=False):
    """diffusers' test loop: `for i, t in enumerate(scheduler.timesteps): residual = model(sample, t);
    sample = scheduler.step(residual, t, sample).prev_sample`. With opts['start'] (test_full_loop_with_noise):
    `timesteps = scheduler.timesteps[t_start * scheduler.order:]`, `sample = scheduler.add_noise(sample, noise,
    timesteps[:1])` first. Returns timesteps, sigmas, prev samples, x0 estimates, the solver order used at each
    step (DPM / UniPC) and whether UniPC's corrector ran."""
    s = make_scheduler(cfg, dtype, scalar_linspace)
    s.set_timesteps(steps)
    ts = [int(t) for t in s.timesteps]
    x = X_T[xs].to(dtype)
    start = opts.get('start', 0)
    if start:
        x = s.add_noise(x, X_T['noise_deter'].to(dtype), ts[start])
    prevs, x0s, orders, correctors = [], [], [], []
    for t in ts[start:]:
        out = dummy_model(x, t, opts.get('negate', False))
        if isinstance(s, PNDM):
            x0 = s.x0_estimate(out, t, x)
            prev = s.step(out, t, x)
            order, corrector = None, None
        elif isinstance(s, UniPCMultistep):
            prev, x0, (order, corrector) = s.step(out, t, x)
        else:
            prev, x0, order = s.step(out, t, x)
            corrector = None
        prevs.append(prev)
        x0s.append(x0)
        orders.append(order)
        correctors.append(corrector)
        x = prev
    sigmas = [float(v) for v in s.sigmas.to(torch.float32)] if hasattr(s, 'sigmas') else None
    return ts, sigmas, prevs, x0s, orders, correctors


def f32(t):
    """Shortest decimal that round-trips each float32 (numpy repr), flattened."""
    return [float(repr(np.float32(v))) for v in t.detach().to(torch.float32).reshape(-1).tolist()]


def gap(t32, t64):
    """|float32 value - float64 value| per entry, rounded up to 2 significant digits: how far float32
    rounding alone moved the value (the JS test allows twice this on top of its tolerance)."""
    a = t32.detach().to(torch.float32).to(torch.float64).reshape(-1)
    b = t64.detach().to(torch.float64).reshape(-1)
    out = []
    for v in (a - b).abs().tolist():
        g = float('%.2g' % v) if v > 0 else 0.0
        out.append(g if g >= v else float('%.2g' % (v * 1.05)))
    return out


def published_checks(out):
    """The reference must reproduce diffusers' own published full-loop numbers before it is trusted."""
    for case in out:
        want = PUBLISHED.get(case['name'])
        if not want:
            continue
        final = torch.tensor(case['final'], dtype=torch.float32)
        mean, total = final.abs().mean().item(), final.abs().sum().item()
        assert abs(mean - want['mean']) < 1e-3, (case['name'], mean, want)
        if 'sum' in want:
            assert abs(total - want['sum']) < 1e-2, (case['name'], total, want)
        case['published'] = dict(want, got_mean=mean, got_sum=total)
        print(f"{case['name']}: mean |x| {mean:.6f} (diffusers test {want['mean']})", file=sys.stderr)


def schedule_key(cfg):
    keys = ('num_train_timesteps', 'beta_start', 'beta_end', 'beta_schedule', 'rescale_betas_zero_snr')
    return '-'.join(str(cfg.get(k, False)) for k in keys)


def scaled_max_diff(a, b):
    a, b = a.to(torch.float64), b.to(torch.float64)
    return float(((a - b).abs() / b.abs().clamp(min=1)).max())


def loops_fixture(schedules):
    out = []
    for name, cfg, steps, xs, opts in loop_cases():
        ts, sigmas, prevs, x0s, orders, correctors = run_loop(cfg, steps, xs, opts, torch.float32)
        _, _, prevs64, x0s64, _, _ = run_loop(cfg, steps, xs, opts, torch.float64)
        n = len(prevs)
        record = sorted({1, n // 2} & set(range(n))) if xs == 'small' else []
        # the same loop on difflab's tables (scalar linspace): how far the table ulps alone move it
        _, _, prevs_s, x0s_s, _, _ = run_loop(cfg, steps, xs, opts, torch.float32, scalar_linspace=True)
        sens = max([scaled_max_diff(prevs_s[i], prevs[i]) for i in record] + [scaled_max_diff(x0s_s[i], x0s[i]) for i in record] + [scaled_max_diff(prevs_s[-1], prevs[-1])])
        key = schedule_key(cfg)
        if key not in schedules:
            schedules[key] = dict(
                config={k: cfg[k] for k in ('num_train_timesteps', 'beta_start', 'beta_end', 'beta_schedule')},
                rescale_betas_zero_snr=bool(cfg.get('rescale_betas_zero_snr', False)),
                betas=f32(make_betas(cfg)),
            )
        case = dict(
            name=name,
            config=cfg,
            schedule=key,
            table_sensitivity=float('%.2g' % (sens * 1.05)) if sens > 0 else 0.0,
            num_inference_steps=steps,
            x_T=xs,
            negate_model=bool(opts.get('negate', False)),
            timesteps=ts,
            sigmas=sigmas,
            start_index=opts.get('start', 0),
            orders=orders if cfg['_class_name'] != 'PNDMScheduler' else None,
            correctors=correctors if cfg['_class_name'] == 'UniPCMultistepScheduler' else None,
            steps=[
                dict(
                    index=i,
                    t=ts[opts.get('start', 0) + i],
                    prev_sample=f32(prevs[i]),
                    pred_original_sample=f32(x0s[i]),
                    prev_sample_gap=gap(prevs[i], prevs64[i]),
                    pred_original_sample_gap=gap(x0s[i], x0s64[i]),
                )
                for i in record
            ],
            final=f32(prevs[-1]),
            final_gap=gap(prevs[-1], prevs64[-1]),
        )
        out.append(case)
    published_checks(out)
    return out


def add_noise_fixture():
    """DPMSolverMultistepScheduler.add_noise (begin_index None) at a few timesteps of a Karras schedule."""
    cfg = dpm_cfg(use_karras_sigmas=True)
    s = DPMSolverMultistep(cfg, torch.float32)
    s.set_timesteps(10)
    x0 = X_T['small']
    noise = torch.linspace(-1, 1, x0.numel(), dtype=torch.float32).reshape(x0.shape)
    cases = []
    for t in (int(s.timesteps[0]), int(s.timesteps[4]), int(s.timesteps[-1])):
        cases.append(dict(t=t, noisy=f32(s.add_noise(x0, noise, t))))
    return dict(config=cfg, num_inference_steps=10, noise=f32(noise), cases=cases)


def torch_math_fixture():
    """torch's CPU float32 exp and log (SLEEF expf_u10 / logf_u10, not correctly rounded) on fixed arguments."""
    g = torch.Generator().manual_seed(7)
    exp_x = (torch.rand(600, generator=g, dtype=torch.float64) * 40 - 20).to(torch.float32)
    log_x = torch.exp(torch.rand(600, generator=g, dtype=torch.float64) * 40 - 20).to(torch.float32)
    expm1_x = torch.cat([exp_x[:300], exp_x[300:] / 1000])
    return dict(
        exp_x=f32(exp_x), exp=f32(torch.exp(exp_x)), log_x=f32(log_x), log=f32(torch.log(log_x)),
        expm1_x=f32(expm1_x), expm1=f32(torch.expm1(expm1_x)),
    )


def linalg_solve_fixture():
    """torch.linalg.solve on small float32 systems (UniPC's rho weights; CPU LAPACK: OpenBLAS here)."""
    g = torch.Generator().manual_seed(13)
    out = []
    for n in (2, 3):
        for _ in range(120):
            A = torch.rand((n, n), generator=g, dtype=torch.float32) * 4 - 2
            b = torch.rand((n,), generator=g, dtype=torch.float32) * 4 - 2
            out.append(dict(A=[f32(row) for row in A], b=f32(b), x=f32(torch.linalg.solve(A, b))))
    return out


def threshold_fixture():
    """`_threshold_sample` on fixed [B, C, H, W] inputs (torch.quantile's lerp uses FMA on this CPU)."""
    g = torch.Generator().manual_seed(11)
    cases = []
    for shape, ratio, max_value, scale in (((4, 3, 8, 8), 0.995, 1.0, 1.0), ((4, 3, 8, 8), 0.995, 2.5, 1.5), ((3, 2, 5, 7), 0.87, 0.5, 1.0),
                                           ((2, 1, 16, 16), 0.9, 4.0, 3.0), ((5, 4, 3), 0.6, 1.7, 2.0), ((2, 3, 4, 4), 1.0, 3.0, 2.0),
                                           ((2, 3, 4, 4), 0.0, 3.0, 2.0), ((6, 2, 9), 0.31, 10.0, 4.0)):
        x = torch.randn(shape, generator=g, dtype=torch.float32) * scale
        cases.append(dict(shape=list(shape), ratio=ratio, sample_max_value=max_value, x=f32(x), out=f32(threshold_sample(x, ratio, max_value))))
    return cases


def json_safe(o):
    """JSON has no -Infinity: lambda_min_clipped = -inf is written as the string '-Infinity'."""
    if isinstance(o, float) and math.isinf(o):
        return '-Infinity' if o < 0 else 'Infinity'
    if isinstance(o, dict):
        return {k: json_safe(v) for k, v in o.items()}
    if isinstance(o, list):
        return [json_safe(v) for v in o]
    return o


def main():
    schedules = {}
    fixture = dict(
        generator='tools/reference/multistep_reference.py',
        torch=torch.__version__,
        numpy=np.__version__,
        diffusers='huggingface/diffusers main (2025); step code as at 012687d689a1, see the script docstring',
        model='model(x, t) = x * t / (t + 1) in float32 (diffusers tests dummy_model), negated where negate_model is true',
        x_T={k: dict(shape=list(v.shape), values=f32(v)) for k, v in X_T.items()},
        schedules=schedules,
        loops=loops_fixture(schedules),
        add_noise=add_noise_fixture(),
        torch_math=torch_math_fixture(),
        linalg_solve=linalg_solve_fixture(),
        thresholding=threshold_fixture(),
    )
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as fh:
        json.dump(json_safe(fixture), fh, separators=(',', ':'), allow_nan=False)
        fh.write('\n')
    print(f'wrote {os.path.relpath(OUT, ROOT)} ({os.path.getsize(OUT)} bytes, {len(fixture["loops"])} loops)', file=sys.stderr)


if __name__ == '__main__':
    main()
