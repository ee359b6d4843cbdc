import { ConfigError } from '@difflab/core';
import { describe, expect, it } from 'vitest';
import { BACKEND_CHOICES, BACKENDS, parseBackendChoice, planBackends } from './choices.js';

describe('parseBackendChoice', () => {
  it('accepts every listed choice', () => {
    expect([...BACKENDS]).toEqual(['wasm', 'cpu', 'webgpu']);
    expect([...BACKEND_CHOICES]).toEqual(['auto', 'wasm', 'cpu', 'webgpu']);
    for (const c of BACKEND_CHOICES) expect(parseBackendChoice(c)).toBe(c);
  });

  it('rejects an unknown name with a ConfigError naming the field and what is allowed', () => {
    let err: unknown;
    try {
      parseBackendChoice('x');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).path).toBe('backend');
    expect((err as ConfigError).exitCode).toBe(2);
    expect((err as Error).message).toBe("backend: unknown backend 'x'; allowed: auto, wasm, cpu, webgpu");
  });

  it('is case-sensitive and rejects non-strings', () => {
    expect(() => parseBackendChoice('WASM')).toThrow("unknown backend 'WASM'");
    expect(() => parseBackendChoice(undefined)).toThrow("unknown backend 'undefined'");
  });

  it('lists extra backends among the allowed ones', () => {
    expect(parseBackendChoice('webgl', ['webgl'])).toBe('webgl');
    expect(() => parseBackendChoice('y', ['webgl'])).toThrow('allowed: auto, wasm, cpu, webgpu, webgl');
  });
});

describe('planBackends', () => {
  it('auto is wasm first in Node, cpu as last resort', () => {
    expect(planBackends('auto', 'node')).toEqual(['wasm', 'cpu']);
    expect(planBackends('auto', 'node', ['webgl'])).toEqual(['wasm', 'cpu']);
  });

  it('auto in a browser is webgpu, then extra backends (webgl hook), then wasm, then cpu', () => {
    expect(planBackends('auto', 'browser')).toEqual(['webgpu', 'wasm', 'cpu']);
    expect(planBackends('auto', 'browser', ['webgl'])).toEqual(['webgpu', 'webgl', 'wasm', 'cpu']);
  });

  it('an explicit choice is tried alone (no silent fallback)', () => {
    expect(planBackends('webgpu', 'node')).toEqual(['webgpu']);
    expect(planBackends('cpu', 'browser')).toEqual(['cpu']);
  });
});
