/**
 * `sigvwap train --model constCurve|static|dynamic|gft|gftSig [--store DIR] [--out PATH] [...]`:
 * build the dataset from the store and train a model on the VWAP loss (method.md §6 defaults),
 * one run per seed. The parameter summary (per block) goes to stderr first (`--summary-only`:
 * to stdout, and nothing is trained). Progress (a bar per epoch with the running loss, then one line per epoch with the
 * training and validation loss) goes to stderr; the summary to stdout (JSON with --json).
 * Checkpoints are written after every epoch; --resume continues a killed run exactly.
 */
import { Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { SigvwapError } from '../errors.js';
import { DEFAULT_STORE_DIR, type Dataset } from '../data/index.js';
import { type CliIo, intListOption, intOption, listOption, loadDatasetForCli, numberOption, processIo } from './io.js';
import { MODEL_KINDS, defaultModelConfig, type CheckpointState, type ModelConfig, type ModelKind } from '../allocators/index.js';
import { type ParameterSummary, formatParameterSummary, parameterSummary } from '../allocators/neural/neuralAllocator.js';
import type { SignaturePathChannels } from '../features/signaturePath.js';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from '../train/trainConfig.js';
import { resolveModelConfig, trainModel } from '../train/trainModel.js';
import { BACKENDS, chooseBackend, type BackendName } from '../ops/backend.js';

export interface TrainCliOptions {
  model: ModelKind;
  store: string;
  out?: string;
  seeds: number[];
  epochs?: number;
  batchSize?: number;
  lr?: number;
  samplesPerEpoch?: number;
  validationSamples?: number;
  plateauPatience?: number;
  earlyStoppingPatience?: number;
  loss?: 'abs' | 'quad';
  mode?: 'global' | 'per-asset';
  universe?: 'train' | 'oos' | 'all';
  assets?: string[];
  lookahead?: number;
  hidden?: number[];
  lstmUnits?: number;
  headHidden?: number;
  headLayers?: number;
  encoderLookback?: number;
  base?: 'learned' | 'features';
  executionState?: boolean;
  /** gft, gftSig: encoder width, attention heads, TKAN cell */
  gftHidden?: number;
  gftHeads?: number;
  tkanCell?: 'kan' | 'lstm';
  /** gftSig: signature path length (bars before the order), channels, depth, and the transform
   * of the path the branch reads: its signature, or its log-signature in the Lyndon basis */
  sigLength?: number;
  sigChannels?: SignaturePathChannels;
  sigDepth?: number;
  sigTransform?: 'signature' | 'logsig';
  histDays?: number[];
  initFrom?: string;
  timeLimit?: number;
  lookback?: number;
  horizon?: number;
  resume?: boolean;
  overwrite?: boolean;
  json?: boolean;
  progress?: boolean;
  workers?: number;
  /** worker threads that build training batches ahead (default cores − 2, at most 4; 0 = the training thread) */
  dataWorkers?: number;
  /** tfjs backend: 'native' (default when the addon has its kernels), 'wasm' or 'cpu' */
  backend?: BackendName;
  /** print the parameter summary per block (stdout; JSON with `json`) and train nothing */
  summaryOnly?: boolean;
}

export interface TrainRunSummary {
  label: string;
  seed: number;
  path: string;
  epochs: number;
  bestEpoch: number;
  bestValAbsBps: number;
  bestValQuadMillionths: number;
  stopReason: CheckpointState['stopReason'];
  parameters: number;
  trainAnchors: number;
  elapsedMs: number;
}

/** Model config overrides from CLI options. */
export function modelFromOptions(o: TrainCliOptions): ModelConfig | ({ kind: ModelKind } & Partial<ModelConfig>) {
  const base = defaultModelConfig(o.model);
  return {
    kind: o.model,
    lookahead: o.lookahead ?? 0,
    staticHidden: o.hidden ?? base.staticHidden,
    staticFeatures: { ...base.staticFeatures, ...(o.histDays ? { histCurveDays: o.histDays } : {}) },
    dynamic: {
      ...base.dynamic,
      ...(o.lstmUnits !== undefined ? { lstmUnits: o.lstmUnits } : {}),
      ...(o.headHidden !== undefined ? { headHidden: o.headHidden } : {}),
      ...(o.headLayers !== undefined ? { headLayers: o.headLayers } : {}),
      ...(o.base !== undefined ? { base: o.base } : {}),
      ...(o.executionState !== undefined ? { executionState: o.executionState } : {}),
      sequence: { ...base.dynamic.sequence, ...(o.encoderLookback !== undefined ? { encoderLookback: o.encoderLookback } : {}) },
    },
    ...(base.gft ? {
      gft: {
        ...base.gft,
        ...(o.gftHidden !== undefined ? { hidden: o.gftHidden } : {}),
        ...(o.gftHeads !== undefined ? { heads: o.gftHeads } : {}),
        tkan: { ...base.gft.tkan, ...(o.tkanCell !== undefined ? { cell: o.tkanCell } : {}) },
        signature: {
          path: { ...base.gft.signature.path, ...(o.sigLength !== undefined ? { length: o.sigLength } : {}), ...(o.sigChannels !== undefined ? { channels: o.sigChannels } : {}) },
          depth: o.sigDepth ?? base.gft.signature.depth,
          logSignature: o.sigTransform !== undefined ? o.sigTransform === 'logsig' : base.gft.signature.logSignature,
        },
      },
    } : {}),
  };
}

export function trainFromOptions(o: TrainCliOptions, seed: number): Partial<TrainConfig> {
  return {
    seed,
    epochs: o.epochs,
    batchSize: o.batchSize,
    learningRate: o.lr,
    samplesPerEpoch: o.samplesPerEpoch,
    validationSamples: o.validationSamples,
    plateauPatience: o.plateauPatience,
    earlyStoppingPatience: o.earlyStoppingPatience,
    loss: o.loss,
    mode: o.mode,
    universe: o.universe,
    timeLimitMinutes: o.timeLimit,
    initFrom: o.initFrom ? o.initFrom.replaceAll('{seed}', String(seed)) : null,
  };
}

/** Default output of a run: .sigvwap/runs/<label>-seed<seed>.ckpt (a directory for per-asset models). */
export function defaultOut(o: Pick<TrainCliOptions, 'model' | 'lookahead' | 'mode'>, seed: number): string {
  const label = (o.lookahead ?? 0) > 0 ? `${o.model}-lookahead${o.lookahead}` : o.model;
  return o.mode === 'per-asset' ? `.sigvwap/runs/${label}-afd-seed${seed}` : `.sigvwap/runs/${label}-seed${seed}.ckpt`;
}

/** `out` for one of several seeds: a {seed} placeholder, or -seedN before the extension. */
export function outForSeed(out: string, seed: number, seeds: number): string {
  if (out.includes('{seed}')) return out.replaceAll('{seed}', String(seed));
  if (seeds === 1) return out;
  const m = /^(.*?)(\.[^./]+)?$/.exec(out)!;
  return `${m[1]}-seed${seed}${m[2] ?? ''}`;
}

const fmt = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

/** The command-line flag of each training and model option (errors name the flag). */
const FLAGS: Record<string, string> = {
  seed: '--seeds', epochs: '--epochs', batchSize: '--batch-size', learningRate: '--lr', samplesPerEpoch: '--samples-per-epoch',
  validationSamples: '--validation-samples', plateauPatience: '--plateau-patience', earlyStoppingPatience: '--early-stopping-patience',
  loss: '--loss', mode: '--mode', universe: '--universe', timeLimitMinutes: '--time-limit', initFrom: '--init-from', out: '--out', assets: '--assets',
  lookahead: '--lookahead', staticHidden: '--hidden', 'staticFeatures.histCurveDays': '--hist-days', 'dynamic.lstmUnits': '--lstm-units',
  'dynamic.headHidden': '--head-hidden', 'dynamic.headLayers': '--head-layers', 'dynamic.base': '--base', 'dynamic.sequence.encoderLookback': '--encoder-lookback',
  'gft.hidden': '--gft-hidden', 'gft.heads': '--gft-heads', 'gft.tkan.cell': '--tkan-cell', 'gft.signature.path.length': '--sig-length',
  'gft.signature.path.channels': '--sig-channels', 'gft.signature.depth': '--sig-depth',
  'gft.signature.logSignature': '--sig-transform',
};

/** An ERR_ARG about an option, restated with its flag. */
export function withFlag(e: unknown): unknown {
  if (!(e instanceof SigvwapError) || e.code !== 'ERR_ARG') return e;
  const arg = String(e.data.argument ?? '');
  const flag = FLAGS[arg] ?? FLAGS[arg.replace(/\.\d+$/, '')];
  if (!flag) return e;
  return new SigvwapError('ERR_ARG', `${flag}: ${e.message.replace(/^(train config: |model config: )?[\w.]+: /, '')}`, { ...e.data, flag }, { cause: e });
}

/** The parameter summary of the model the options describe, on this dataset's feature widths. */
export function parameterSummaryForOptions(dataset: Dataset, o: TrainCliOptions): ParameterSummary {
  if (!MODEL_KINDS.includes(o.model)) throw new SigvwapError('ERR_ARG', `model: expected one of ${MODEL_KINDS.join('|')}, got ${JSON.stringify(o.model)}`, { argument: 'model', value: o.model });
  try {
    return parameterSummary(resolveModelConfig(dataset, modelFromOptions(o)));
  } catch (e) {
    throw withFlag(e);
  }
}

/** Train one model per seed on an already built dataset. */
export async function runTrainOnDataset(dataset: Dataset, o: TrainCliOptions, io: CliIo = processIo()): Promise<TrainRunSummary[]> {
  const summary = parameterSummaryForOptions(dataset, o);
  const seeds = o.seeds.length > 0 ? o.seeds : [DEFAULT_TRAIN_CONFIG.seed];
  // every backend computes the same float32 model: checkpoints do not record which one ran
  const { warning } = await chooseBackend(o.backend);
  if (warning) io.stderr.write(`warning: ${warning}\n`);
  const showBar = o.progress !== false && Boolean(io.stderr.isTTY);
  const summaries: TrainRunSummary[] = [];
  // printed once a run has started (its options checked): a failing command stays one line
  let summaryShown = false;
  for (const seed of seeds) {
    const out = o.out ? outForSeed(o.out, seed, seeds.length) : defaultOut(o, seed);
    let bar: cliProgress.SingleBar | undefined;
    let epochsTotal = o.epochs ?? DEFAULT_TRAIN_CONFIG.epochs;
    let tag = '';
    const result = await trainModel({
      dataset,
      model: modelFromOptions(o),
      train: trainFromOptions(o, seed),
      out,
      resume: o.resume,
      overwrite: o.overwrite,
      assets: o.assets,
      dataWorkers: o.dataWorkers,
      onStart: (info) => {
        if (!summaryShown) io.stderr.write(formatParameterSummary(summary) + '\n');
        summaryShown = true;
        tag = `${info.label}${info.asset ? ` ${info.asset}` : ''} seed ${seed}`;
        io.stderr.write(`train ${tag}: ${info.parameters} parameters, ${info.trainAnchors} training anchors (${info.batchesPerEpoch} batches/epoch), ${info.validationAnchors} validation anchors${info.resumed ? `, resumed after epoch ${info.epochsDone}` : ''} -> ${out}\n`);
        epochsTotal = o.epochs ?? DEFAULT_TRAIN_CONFIG.epochs;
      },
      onBatch: ({ epoch, batch, batches, loss }) => {
        if (!showBar) return;
        if (!bar) {
          bar = new cliProgress.SingleBar({ stream: io.stderr, format: `epoch {epoch}/${epochsTotal} [{bar}] {value}/{total} batches | loss {loss} bps`, hideCursor: false, clearOnComplete: true }, cliProgress.Presets.legacy);
          bar.start(batches, 0, { epoch, loss: '' });
        }
        bar.update(batch, { epoch, loss: fmt(loss * 1e4) });
      },
      onEpoch: (r, state) => {
        bar?.stop();
        bar = undefined;
        const improved = state.bestEpoch === r.epoch ? ' *' : '';
        io.stderr.write(`${tag} epoch ${r.epoch}: loss ${fmt(r.loss * (state.train.loss === 'abs' ? 1e4 : 1e6))} val ${fmt(r.valAbsBps)} bps (quad ${fmt(r.valQuadMillionths, 1)}e-6) lr ${r.learningRate.toExponential(1)} ${(r.elapsedMs / 1000).toFixed(1)} s${improved}${state.stopReason ? ` (stop: ${state.stopReason})` : ''}\n`);
      },
    }).catch((e: unknown) => {
      throw withFlag(e);
    });
    bar?.stop();
    for (const state of result.states) {
      const best = state.history.find((h) => h.epoch === state.bestEpoch);
      summaries.push({
        label: state.label + (state.asset ? `:${state.asset}` : ''),
        seed,
        path: result.path,
        epochs: state.epoch,
        bestEpoch: state.bestEpoch,
        bestValAbsBps: best?.valAbsBps ?? NaN,
        bestValQuadMillionths: best?.valQuadMillionths ?? NaN,
        stopReason: state.stopReason,
        parameters: state.parameters,
        trainAnchors: state.trainAnchors,
        elapsedMs: state.elapsedMs,
      });
    }
    result.model.dispose();
  }
  return summaries;
}

export async function runTrain(o: TrainCliOptions, io: CliIo = processIo()): Promise<TrainRunSummary[]> {
  const dataset = await loadDatasetForCli(o, io, o.progress !== false);
  if (o.summaryOnly) {
    // the counts depend on the data only through its feature widths: no backend, no training
    const summary = parameterSummaryForOptions(dataset, o);
    io.stdout.write(o.json ? JSON.stringify(summary, null, 2) + '\n' : formatParameterSummary(summary) + '\n');
    return [];
  }
  const summaries = await runTrainOnDataset(dataset, o, io);
  if (o.json) io.stdout.write(JSON.stringify(summaries, null, 2) + '\n');
  else io.stdout.write(formatTrainSummaries(summaries));
  return summaries;
}

export function formatTrainSummaries(rows: readonly TrainRunSummary[]): string {
  const lines = [['model', 'seed', 'epochs', 'best', 'val abs (bps)', 'val quad (1e-6)', 'stop', 'time (s)', 'checkpoint'].join('\t')];
  for (const r of rows) {
    lines.push([r.label, r.seed, r.epochs, r.bestEpoch, fmt(r.bestValAbsBps), fmt(r.bestValQuadMillionths, 1), r.stopReason ?? '', (r.elapsedMs / 1000).toFixed(1), r.path].join('\t'));
  }
  return lines.join('\n') + '\n';
}

export function registerTrainCommand(program: Command): Command {
  const d = DEFAULT_TRAIN_CONFIG;
  return program
    .command('train')
    .description('train an allocation model on the VWAP loss (GFD: one model for the training universe; AFD: --mode per-asset)')
    .addOption(new Option('--model <kind>', 'model kind').choices(MODEL_KINDS).makeOptionMandatory())
    .option('--store <dir>', 'bar store', DEFAULT_STORE_DIR)
    .option('--out <path>', 'checkpoint file (a directory with --mode per-asset); "{seed}" is replaced by the seed (default .sigvwap/runs/<model>-seed<seed>.ckpt)')
    .option('--seeds <list>', 'seeds, comma-separated (one run each)', intListOption('seeds'), [d.seed])
    .option('--epochs <n>', `maximum epochs (default ${d.epochs})`, intOption('epochs', 1))
    .option('--batch-size <n>', `orders per batch (default ${d.batchSize})`, intOption('batch-size', 1))
    .option('--lr <rate>', `Adam learning rate (default ${d.learningRate})`, numberOption('lr'))
    .option('--samples-per-epoch <n>', 'training anchors per epoch, a fresh seeded draw each epoch (default: all)', intOption('samples-per-epoch', 0))
    .option('--validation-samples <n>', 'validation anchors, a fixed seeded subset (default: all)', intOption('validation-samples', 0))
    .option('--plateau-patience <n>', `epochs without improvement before the learning rate is cut ×${d.plateauFactor} (default ${d.plateauPatience})`, intOption('plateau-patience', 1))
    .option('--early-stopping-patience <n>', `epochs without improvement before stopping (default ${d.earlyStoppingPatience})`, intOption('early-stopping-patience', 1))
    .addOption(new Option('--loss <kind>', 'training objective').choices(['abs', 'quad']))
    .addOption(new Option('--mode <mode>', 'global (GFD) or per-asset (AFD)').choices(['global', 'per-asset']))
    .addOption(new Option('--universe <u>', 'assets a global model learns from').choices(['train', 'oos', 'all']))
    .option('--assets <list>', 'per-asset mode: symbols to train (default: all)', listOption)
    .option('--lookahead <k>', 'bars of look-ahead (0 = causal; 1 = the published one-bar leak)', intOption('lookahead', 0))
    .option('--hidden <list>', 'static map hidden widths, e.g. 64 (default: none = linear)', intListOption('hidden'))
    .option('--lstm-units <n>', 'dynamic: LSTM units', intOption('lstm-units', 1))
    .option('--head-hidden <n>', 'dynamic, gft, gftSig: width of each step head', intOption('head-hidden', 1))
    .option('--head-layers <n>', 'dynamic, gft, gftSig: hidden layers of each step head', intOption('head-layers', 0))
    .option('--encoder-lookback <n>', 'dynamic, gft, gftSig: bars before the order that the encoder reads', intOption('encoder-lookback', 1))
    .addOption(new Option('--base <kind>', 'dynamic, gft, gftSig: base curve').choices(['learned', 'features']))
    .option('--gft-hidden <n>', `gft, gftSig: width of the encoder (default ${defaultModelConfig('gft').gft!.hidden}; the paper: 200)`, intOption('gft-hidden', 1))
    .option('--gft-heads <n>', 'gft, gftSig: attention heads (default 3)', intOption('gft-heads', 1))
    .addOption(new Option('--tkan-cell <cell>', 'gft, gftSig: recurrent cell (kan: TKAN, the paper; lstm: the LSTM variant)').choices(['kan', 'lstm']))
    .option('--sig-length <n>', 'gftSig: bars before the order in the signature path (default 400)', intOption('sig-length', 1))
    .addOption(new Option('--sig-channels <kind>', 'gftSig: path channels (volumeHour: the paper; timeVolumePrice)').choices(['volumeHour', 'timeVolumePrice']))
    .option('--sig-depth <n>', 'gftSig: signature depth (default 3)', intOption('sig-depth', 1))
    .addOption(new Option('--sig-transform <kind>', 'gftSig: what the branch reads of the path (signature: the paper; logsig: the log-signature in the Lyndon basis, fewer variables)').choices(['signature', 'logsig']))
    .addOption(new Option('--backend <name>', 'tfjs backend: native (the Rust kernels; default when the addon has them), wasm (tfjs-backend-wasm) or cpu (tfjs JavaScript)').choices(BACKENDS))
    .option('--no-execution-state', 'dynamic, gft, gftSig: do not feed the heads the execution state')
    .option('--hist-days <list>', 'historical-curve feature windows in days, e.g. 1,5,20', intListOption('hist-days'))
    .option('--init-from <ckpt>', 'warm-start from a checkpoint (parameters with equal names and shapes); "{seed}" is replaced by the seed')
    .option('--time-limit <minutes>', 'stop after the epoch in which this many minutes have passed', numberOption('time-limit'))
    .option('--lookback <n>', 'dataset lookback L (default 60)', intOption('lookback', 1))
    .option('--horizon <n>', 'order horizon H in bars (default 12)', intOption('horizon', 2))
    .option('--workers <n>', 'worker threads that build the asset series (0 = main thread)', intOption('workers', 0))
    .option('--data-workers <n>', 'worker threads that build training batches ahead while the model trains (default: cores - 2, at most 4; 0 = the training thread; results are identical)', intOption('data-workers', 0))
    .option('--resume', 'continue from the checkpoint at --out')
    .option('--overwrite', 'replace an existing checkpoint at --out')
    .option('--json', 'print the summary as JSON')
    .option('--summary-only', 'print the parameter count of each block of the model these options describe, and train nothing')
    .option('--no-progress', 'no progress bar')
    .action(async (opts: TrainCliOptions) => {
      // Ctrl-C: checkpoints are written atomically after each epoch, so the run continues
      // exactly from the last finished one; say how
      const onSigint = () => {
        const again = ['sigvwap', ...process.argv.slice(2).filter((a) => a !== '--overwrite' && a !== '--resume'), '--resume'].join(' ');
        process.stderr.write(`\nsigvwap: interrupted; each checkpoint holds its last finished epoch. Continue with:\n  ${again}\n`);
        process.exit(130);
      };
      process.once('SIGINT', onSigint);
      try {
        await runTrain(opts);
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
