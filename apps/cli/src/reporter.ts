import cliProgress from 'cli-progress';
import type { ProgressEvent, Reporter } from '@difflab/pipeline';

function fmtEta(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

/**
 * Progress on a terminal: a cli-progress bar with loss, steps/s and ETA. Not a TTY (CI, pipes):
 * one plain line per progress event. `--quiet`: nothing but errors and final paths.
 */
export function createReporter(quiet: boolean, preamble?: string): Reporter {
  const tty = Boolean(process.stderr.isTTY);
  let bar: cliProgress.SingleBar | null = null;
  let pending = preamble;
  const flush = () => {
    if (pending && !quiet) process.stderr.write(`${pending}\n`);
    pending = undefined;
  };
  return {
    log(msg: string) {
      flush();
      if (quiet) return;
      if (bar) {
        bar.stop();
        bar = null;
      }
      process.stderr.write(`${msg}\n`);
    },
    result(msg: string) {
      flush();
      if (bar) {
        bar.stop();
        bar = null;
      }
      process.stdout.write(`${msg}\n`);
    },
    progress(ev: ProgressEvent) {
      flush();
      if (quiet) return;
      if (tty) {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            { format: `${ev.label} [{bar}] {value}/{total} | loss {loss} | {rate} it/s | ETA {eta_h}`, stream: process.stderr, hideCursor: true },
            cliProgress.Presets.shades_classic,
          );
          bar.start(ev.total, 0, { loss: '-', rate: '-', eta_h: '?' });
        }
        bar.update(ev.step, { loss: ev.loss !== undefined ? ev.loss.toFixed(4) : '-', rate: ev.rate.toFixed(1), eta_h: fmtEta(ev.etaSec) });
        if (ev.step >= ev.total) {
          bar.stop();
          bar = null;
        }
      } else {
        const loss = ev.loss !== undefined ? ` loss ${ev.loss.toFixed(4)}` : '';
        process.stderr.write(`${ev.label} ${ev.step}/${ev.total}${loss} ${ev.rate.toFixed(1)} it/s ETA ${fmtEta(ev.etaSec)}\n`);
      }
    },
  };
}
