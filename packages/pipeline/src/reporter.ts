/** Progress of a long job (training, sampling), emitted every few steps. */
export interface ProgressEvent {
  label: string;
  step: number;
  total: number;
  loss?: number;
  /** Steps per second. */
  rate: number;
  etaSec: number;
}

/** How jobs talk to the user; the CLI prints, the web app renders, tests collect. */
export interface Reporter {
  log(msg: string): void;
  /** Final results (paths, headline numbers): printed even when quiet. */
  result(msg: string): void;
  progress(ev: ProgressEvent): void;
}

export const silentReporter: Reporter = { log() {}, result() {}, progress() {} };

/** A reporter that records everything (for tests). */
export function recordingReporter(): Reporter & { logs: string[]; results: string[]; events: ProgressEvent[] } {
  const logs: string[] = [];
  const results: string[] = [];
  const events: ProgressEvent[] = [];
  return { logs, results, events, log: (m) => logs.push(m), result: (m) => results.push(m), progress: (e) => events.push(e) };
}
