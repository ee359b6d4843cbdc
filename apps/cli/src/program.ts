import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError, isDifflabError } from '@difflab/core';
import { startBackend, BACKEND_CHOICES, describeBackend, type BackendChoice } from '@difflab/runtime';
import {
  PRESET_NAMES,
  createApp,
  loadConfig,
  loadPlugins,
  listPlugins,
  runForward,
  runTrain,
  runSample,
  runLab,
  runAblate,
  runNfeCurve,
  runLabImages,
  IMAGE_LAB_DATASETS,
  parseStepList,
  type Reporter,
} from '@difflab/pipeline';
import { createReporter } from './reporter.js';

interface GlobalOpts {
  backend: BackendChoice;
  threads?: number;
  nativeBlas?: boolean;
  plugin: string[];
  quiet: boolean;
}

function intArg(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got '${v}'`);
    }
    return n;
  };
}

function numberArg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got '${v}'`);
    }
    return n;
  };
}

function intList(name: string) {
  return (v: string): number[] => {
    const parts = v.split(',').map((s) => s.trim());
    if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) {
      throw new InvalidArgumentError(`${name} must be a comma-separated list of non-negative integers, got '${v}'`);
    }
    return parts.map(Number);
  };
}

/** '0,1,3,7' -> [0, 1, 3, 7]; finite numbers >= 0. */
function parseGuidance(text: string): number[] {
  const parts = text.split(',').map((v) => v.trim());
  const vals = parts.map(Number);
  if (parts.some((p) => p === '') || vals.some((v) => !Number.isFinite(v) || v < 0)) throw new ConfigError('--guidance', `expects numbers >= 0 separated by commas (e.g. 0,1,3,7), got '${text}'`);
  return vals;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** Start the backend and the app (built-in plugins + --plugin modules) for a command. */
async function setup(cmd: Command): Promise<{ g: GlobalOpts; reporter: Reporter; app: ReturnType<typeof createApp> }> {
  const g = cmd.optsWithGlobals() as GlobalOpts;
  const info = await startBackend(g.backend, { ...(g.threads && g.threads > 1 ? { wasmThreads: g.threads } : {}), nativeBlas: g.nativeBlas !== false });
  // The backend line is printed before the job's first output, so that an input error found
  // before any work is still the only line the user sees.
  const { threads, matmul } = describeBackend();
  const wasmDetail = [threads && threads > 1 ? `${threads} threads` : '', matmul === 'openblas' ? 'OpenBLAS matmul' : ''].filter(Boolean).join(', ');
  const detail = info.adapter ?? (wasmDetail || undefined);
  const reporter = createReporter(g.quiet, `backend: ${info.backend}${detail ? ` (${detail})` : ''}`);
  const extra = await loadPlugins(g.plugin ?? []);
  const app = createApp(extra);
  return { g, reporter, app };
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('difflab')
    .description('Denoising diffusion lab on TensorFlow.js: forward process, training, sampling and measured results')
    .version('0.1.0')
    .addOption(new Option('--backend <name>', 'tfjs backend').choices([...BACKEND_CHOICES]).default('auto'))
    .option('--threads <n>', 'wasm backend threads (Node: opt-in threaded build; 1 = single-threaded)', intArg('--threads', 1, 8))
    .option('--no-native-blas', 'wasm in Node: run matmuls in WebAssembly, not on the native OpenBLAS addon')
    .option('--plugin <module>', 'load a plugin package (exports register(container)); repeatable', collect, [])
    .option('-q, --quiet', 'print only errors and final paths', false)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str.split('\n')[0] + '\n') });

  program
    .command('plugins')
    .description('list every registered plugin by kind, with its options and defaults')
    .option('--json', 'print JSON')
    .option('--kind <kind>', 'only this kind')
    .action(async (opts, cmd: Command) => {
      const g = cmd.optsWithGlobals() as GlobalOpts;
      const app = createApp(await loadPlugins(g.plugin ?? []));
      process.stdout.write(listPlugins(app, { json: Boolean(opts.json), kind: opts.kind }));
    });

  program
    .command('config')
    .description(`print a resolved config (a preset: ${PRESET_NAMES.join(', ')}; or a JSON file)`)
    .argument('[config]', 'preset name or file', 'spiral-default')
    .action((name: string) => {
      process.stdout.write(`${JSON.stringify(loadConfig(name), null, 2)}\n`);
    });

  program
    .command('forward')
    .description('lab task 4: render the forward process q(x_t | x_0) at chosen t (PNG, GIF, JSON)')
    .option('--config <file>', 'pipeline config: preset name or JSON file', 'spiral-default')
    .option('--t <list>', 'comma-separated timesteps, e.g. 0,1,10,25,37', intList('--t'))
    .option('--n <count>', 'number of points', intArg('--n', 1, 1_000_000))
    .option('--out <dir>', 'output directory', 'out/forward')
    .action(async (opts, cmd: Command) => {
      const config = loadConfig(opts.config);
      const { app, reporter } = await setup(cmd);
      await runForward({ app, config, t: opts.t, n: opts.n, outDir: opts.out, reporter });
    });

  program
    .command('train')
    .description('lab tasks 5-6: train a denoiser; writes config, scheduler_config.json, weights, loss curve, resumable checkpoints')
    .option('--config <file>', 'pipeline config: preset name or JSON file (default spiral-default)')
    .option('--out <dir>', 'run directory (default out/run; with --resume the resumed run)')
    .option('--steps <n>', 'override train.steps', intArg('--steps', 1, 10_000_000))
    .option('--set <key=value>', 'override a config field, e.g. schedule.options.T=40; repeatable', collect, [])
    .option('--checkpoint-every <n>', 'every n steps write the (EMA) weights and a resumable checkpoint (RUN/checkpoints); 0 = never', intArg('--checkpoint-every', 0, 10_000_000), 1000)
    .option('--resume <run>', 'continue a run from its newest checkpoint (weights, optimizer, EMA, random state)')
    .action(async (opts, cmd: Command) => {
      if (opts.resume !== undefined && opts.config !== undefined) throw new ConfigError('--resume', 'takes the config of the resumed run; leave out --config');
      const config = opts.resume !== undefined ? undefined : loadConfig(opts.config ?? 'spiral-default');
      const { app, reporter } = await setup(cmd);
      const outDir = opts.out ?? (opts.resume !== undefined ? undefined : 'out/run');
      await runTrain({ app, config, outDir, resume: opts.resume, steps: opts.steps, set: opts.set, reporter, checkpointEvery: opts.checkpointEvery });
    });

  program
    .command('sample')
    .description('lab tasks 7-8: sample from a trained run; p_theta(x_0) beside q(x_0), per-step trace, metrics')
    .requiredOption('--run <dir>', 'run directory written by `difflab train`')
    .option('--sampler <id>', 'sampler plugin id (default: the run config\'s)')
    .option('--scheduler-config <file>', "a diffusers scheduler_config.json to sample with (its _class_name picks the sampler; the run's noise schedule)")
    .option('--steps <n>', 'number of sampling steps', intArg('--steps', 1, 100_000))
    .option('--n <count>', 'number of samples', intArg('--n', 1, 10_000_000))
    .option('--out <dir>', 'output directory (default: RUN/samples-<sampler>)')
    .action(async (opts, cmd: Command) => {
      const { app, reporter } = await setup(cmd);
      await runSample({ app, runDir: opts.run, sampler: opts.sampler, schedulerConfig: opts.schedulerConfig, steps: opts.steps, n: opts.n, outDir: opts.out, reporter });
    });

  program
    .command('nfe-curve')
    .description('quality per model evaluation: SW2 of a trained run against the number of model evaluations, per sampler; table + plot')
    .requiredOption('--run <dir>', 'run directory written by `difflab train`')
    .option('--samplers <ids>', 'sampler plugin ids, comma-separated', 'ddpm,ddim,euler,heun,dpmpp-2m')
    .option('--steps <list>', 'inference step counts, comma-separated', '5,10,20,50,100')
    .option('--n <count>', 'samples per point of the curve', intArg('--n', 2, 10_000_000))
    .option('--out <dir>', 'output directory (default: RUN/nfe-curve)')
    .action(async (opts, cmd: Command) => {
      const samplers = String(opts.samplers)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const steps = parseStepList(String(opts.steps));
      const { app, reporter } = await setup(cmd);
      await runNfeCurve({ app, runDir: opts.run, samplers, steps, n: opts.n, outDir: opts.out, reporter });
    });

  program
    .command('lab')
    .description(
      'run a whole lab part: `lab spiral` = forward figure, training, sampling, traces and report.md; `lab images --dataset mnist|faces` = step-by-step grids for every sampler, prompts with classifier-free guidance, judged metrics',
    )
    .argument('<part>', 'lab part: spiral | images')
    .option('--config <file>', 'pipeline config: preset name or JSON file (spiral: default spiral-default; images: the dataset\'s preset)')
    .option('--dataset <name>', 'images: mnist or faces', 'mnist')
    .option('--run <dir>', 'images: a trained run to sample (default: the shipped weights, else train)')
    .option('--train', 'images: train first even when shipped weights exist', false)
    .option('--prompt <text>', 'images: a prompt (repeatable; default one per class)', collect, [])
    .option('--per-class <n>', 'images: images per prompt for the judged metrics (default 20)', intArg('--per-class', 1, 10_000))
    .option('--guidance <list>', 'images: guidance scales, comma-separated (default 0,1,3,7)')
    .option('--guidance-rescale <phi>', 'images: guidance rescale in [0, 1] (Lin et al. 2023; 0 = off, 0.7 suggested)', numberArg('--guidance-rescale', 0, 1))
    .option('--out <dir>', 'output directory (default out/spiral-lab or out/images-lab-<dataset>)')
    .option('--quick', 'short training for a first look', false)
    .action(async (part: string, opts, cmd: Command) => {
      if (part === 'spiral') {
        const config = loadConfig(opts.config ?? 'spiral-default');
        const { app, reporter } = await setup(cmd);
        await runLab({ app, config, outDir: opts.out ?? 'out/spiral-lab', quick: Boolean(opts.quick), reporter });
        return;
      }
      if (part !== 'images') throw new ConfigError('part', `unknown lab part '${part}'; available: spiral, images`);
      if (!IMAGE_LAB_DATASETS.includes(opts.dataset)) throw new ConfigError('--dataset', `unknown image dataset '${opts.dataset}'; available: ${IMAGE_LAB_DATASETS.join(', ')}`);
      const config = opts.config !== undefined ? loadConfig(opts.config) : undefined;
      const { app, reporter } = await setup(cmd);
      await runLabImages({
        app,
        dataset: opts.dataset,
        config,
        runDir: opts.run,
        train: Boolean(opts.train),
        quick: Boolean(opts.quick),
        prompts: opts.prompt.length ? opts.prompt : undefined,
        perClass: opts.perClass,
        guidance: opts.guidance !== undefined ? parseGuidance(String(opts.guidance)) : undefined,
        guidanceRescale: opts.guidanceRescale,
        outDir: opts.out ?? `out/images-lab-${opts.dataset}`,
        reporter,
      });
    });

  program
    .command('ablate')
    .description('train each variant of one config slot with the same seed and budget; table + side-by-side figure')
    .option('--config <file>', 'pipeline config: preset name or JSON file', 'spiral-default')
    .requiredOption('--grid <slot=a,b,...>', 'slot and values, e.g. embedding=sinusoidal,learnable,linear,zero')
    .option('--steps <n>', 'override train.steps for every variant', intArg('--steps', 1, 10_000_000))
    .option('--n <count>', 'samples per variant', intArg('--n', 1, 1_000_000))
    .option('--out <dir>', 'output directory', 'out/ablate')
    .action(async (opts, cmd: Command) => {
      const config = loadConfig(opts.config);
      const { app, reporter } = await setup(cmd);
      await runAblate({ app, config, grid: opts.grid, steps: opts.steps, n: opts.n, outDir: opts.out, reporter });
    });

  return program;
}

/** Run the CLI; returns the exit code. User errors print one line (no stack) and exit 2. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2;
    }
    if (isDifflabError(e)) {
      process.stderr.write(`difflab: ${e.message.split('\n')[0]}\n`);
      return e.exitCode;
    }
    throw e;
  }
}
