/**
 * Typed errors. Every error a user can cause carries a one-line message that names what was
 * wrong and what is allowed; the CLI prints `message` alone (no stack) and exits with `exitCode`.
 */
export class DifflabError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Bad user input: config files, CLI arguments, options. Exit code 2. */
export class ConfigError extends DifflabError {
  /** Dotted path of the offending field, e.g. `schedule.options.T`. */
  readonly path: string;
  constructor(path: string, message: string) {
    super(path ? `${path}: ${message}` : message, 2);
    this.path = path;
  }
}

/** A plugin id that is not registered. */
export class UnknownPluginError extends ConfigError {
  constructor(path: string, kind: string, id: string, available: readonly string[]) {
    super(path, `unknown ${kind} '${id}'; available: ${available.length ? available.join(', ') : '(none registered)'}`);
  }
}

/** A file that cannot be read or is malformed (weights, configs, checkpoints). Exit code 2. */
export class FileFormatError extends DifflabError {
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`, 2);
    this.file = file;
  }
}

/** A numerical fault: NaN/Inf in a loss or a sample. */
export class NumericalError extends DifflabError {
  constructor(message: string) {
    super(message, 3);
  }
}

/** Dependency-injection wiring fault (a token resolved to undefined). A programming error. */
export class WiringError extends DifflabError {
  constructor(message: string) {
    super(message, 70);
  }
}

export function isDifflabError(e: unknown): e is DifflabError {
  return e instanceof DifflabError;
}
