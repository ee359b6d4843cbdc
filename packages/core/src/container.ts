import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import { WiringError } from './errors.js';
import { PluginRegistry } from './plugin.js';
import { TOKENS, type Token } from './tokens.js';

/**
 * Resolve a token and fail loudly when it is missing or resolved to undefined/null
 * (the classic symptom of relying on decorator metadata under esbuild).
 */
export function resolveRequired<T>(c: DependencyContainer, tok: Token<T>, what?: string): T {
  const name = what ?? tok.description ?? String(tok);
  if (!c.isRegistered(tok, true)) throw new WiringError(`${name} is not registered in this container`);
  const v = c.resolve<T>(tok);
  if (v === undefined || v === null) throw new WiringError(`${name} resolved to ${v}`);
  return v;
}

/** Resolve a token if registered, else undefined. */
export function resolveOptional<T>(c: DependencyContainer, tok: Token<T>): T | undefined {
  return c.isRegistered(tok, true) ? c.resolve<T>(tok) : undefined;
}

/** Register a value, refusing undefined/null. */
export function provide<T>(c: DependencyContainer, tok: Token<T>, value: T): void {
  if (value === undefined || value === null) throw new WiringError(`cannot register ${tok.description}: value is ${value}`);
  c.register(tok, { useValue: value });
}

/**
 * A fresh container holding an empty plugin registry. Packages add their plugins with
 * their own `register(container)`. Child containers (one per job) see the parent's registry.
 */
export function createRootContainer(): DependencyContainer {
  const c = rootContainer.createChildContainer();
  provide(c, TOKENS.Registry, new PluginRegistry());
  return c;
}

export function registryOf(c: DependencyContainer): PluginRegistry {
  return resolveRequired(c, TOKENS.Registry, 'plugin registry');
}
