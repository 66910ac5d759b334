/**
 * `sigvwap evaluate --models twap histCurve runs/static-seed1.ckpt ... [--out results/]`:
 * evaluate allocators (names resolve through the allocator registry) on the test split of every asset in the store (method.md §2). Checkpoints
 * with the same label (model kind, plus the lookahead when not causal) are seeds of one model.
 * TWAP and histCurve are always included. Writes evaluation.json and evaluation.md into --out;
 * prints the Markdown tables (or the JSON report with --json) to stdout, progress to stderr.
 */
import { Option, type Command } from 'commander';
import { SigvwapError } from '../errors.js';
import { DEFAULT_STORE_DIR, SPLITS, type Dataset, type Split } from '../data/index.js';
import { writeResultFiles } from '../data/fileLock.js';
import { type Allocator, registeredAllocators, resolveAllocator } from '../allocators/index.js';
import { DEFAULT_REFERENCES, type EvaluationReport, evaluateAllocators } from '../evaluate/evaluateAllocators.js';
import { reportToMarkdown } from '../evaluate/formatReport.js';
import { type CliIo, intOption, listOption, loadDatasetForCli, processIo } from './io.js';

export interface EvaluateCliOptions {
  models: string[];
  store: string;
  out?: string;
  split: Split;
  assets?: string[];
  replicates?: number;
  blockLength?: number;
  histDays?: number;
  lookback?: number;
  horizon?: number;
  workers?: number;
  /** labels every other model is compared with, paired (default twap histCurve constCurve static) */
  references?: string[];
  json?: boolean;
  progress?: boolean;
}

/** Allocators named on the command line (registered names or checkpoint paths); twap and
 * histCurve are always included, first. */
export function resolveAllocators(names: readonly string[], dataset: Dataset, histDays = 20): Allocator[] {
  const context = { horizon: dataset.horizon, intervalMs: dataset.assets[0]?.intervalMs, histDays };
  const out = names.map((name) => resolveAllocator(name, context));
  if (!out.some((a) => a.label === 'twap')) out.unshift(resolveAllocator('twap', context));
  if (!out.some((a) => a.label === 'histCurve')) out.splice(1, 0, resolveAllocator('histCurve', context));
  return out;
}

export function runEvaluateOnDataset(dataset: Dataset, o: EvaluateCliOptions, io: CliIo = processIo()): EvaluationReport {
  const allocators = resolveAllocators(o.models, dataset, o.histDays);
  const bootstrap: { replicates?: number; blockLength?: number } = {};
  if (o.replicates !== undefined) bootstrap.replicates = o.replicates;
  if (o.blockLength !== undefined) bootstrap.blockLength = o.blockLength;
  const tty = o.progress !== false && Boolean(io.stderr.isTTY);
  const report = evaluateAllocators({
    dataset,
    allocators,
    split: o.split,
    assets: o.assets,
    ...(o.references ? { references: checkReferences(o.references, allocators) } : {}),
    bootstrap,
    onProgress: tty ? ({ asset, done, total }) => io.stderr.write(`\revaluate ${done}/${total} ${asset.padEnd(12)}`) : undefined,
  });
  if (tty) io.stderr.write('\r\x1b[K');
  io.stderr.write(`evaluate: ${allocators.length} allocators on ${report.assets.length} assets (${(report.elapsedMs / 1000).toFixed(1)} s)\n`);
  for (const a of allocators) a.dispose?.();
  return report;
}

/** --references must name evaluated models: a misspelt label would silently compare nothing. */
function checkReferences(references: readonly string[], allocators: readonly Allocator[]): string[] {
  const labels = [...new Set(allocators.map((a) => a.label))];
  for (const r of references) {
    if (!labels.includes(r)) throw new SigvwapError('ERR_ARG', `references: ${JSON.stringify(r)} is not one of the evaluated models (${labels.join(', ')})`, { argument: 'references', value: r, labels });
  }
  return [...references];
}

/** Write evaluation.json and evaluation.md into `dir`, atomically, one writer at a time. */
export async function writeReport(report: EvaluationReport, dir: string, name = 'evaluation'): Promise<{ json: string; markdown: string }> {
  const [json, markdown] = await writeResultFiles(dir, {
    [`${name}.json`]: JSON.stringify(report, null, 2) + '\n',
    [`${name}.md`]: `# Evaluation\n\n${reportToMarkdown(report)}`,
  });
  return { json: json!, markdown: markdown! };
}

export async function runEvaluate(o: EvaluateCliOptions, io: CliIo = processIo()): Promise<EvaluationReport> {
  if (!SPLITS.includes(o.split)) throw new SigvwapError('ERR_ARG', `split: expected one of ${SPLITS.join('|')}, got ${JSON.stringify(o.split)}`, { argument: 'split', value: o.split });
  const dataset = await loadDatasetForCli(o, io, o.progress !== false);
  const report = runEvaluateOnDataset(dataset, o, io);
  if (o.out) {
    const files = await writeReport(report, o.out);
    io.stderr.write(`evaluate: wrote ${files.json} and ${files.markdown}\n`);
  }
  io.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : reportToMarkdown(report));
  return report;
}

export function registerEvaluateCommand(program: Command): Command {
  return program
    .command('evaluate')
    .description('evaluate allocators (twap, histCurve, checkpoints) on the test split: losses, improvements, block-bootstrap intervals')
    .option('--models <names...>', `registered allocators (${registeredAllocators().map((e) => e.name).join(', ')}) checkpoint paths and/or shipped models pretrained:<name> (same label = seeds of one model; label=path reports a checkpoint under its own label)`, ['twap', 'histCurve'])
    .option('--store <dir>', 'bar store', DEFAULT_STORE_DIR)
    .option('--out <dir>', 'write evaluation.json and evaluation.md here')
    .addOption(new Option('--split <split>', 'split to evaluate').choices(SPLITS).default('test'))
    .option('--assets <list>', 'symbols to evaluate (default: all)', listOption)
    .option('--replicates <n>', 'bootstrap replicates (default 1000)', intOption('replicates', 10))
    .option('--block-length <n>', 'bootstrap block length in orders, >= the horizon (default 4·horizon)', intOption('block-length', 1))
    .option('--hist-days <n>', 'days of the historical curve (default 20)', intOption('hist-days', 1))
    .option('--lookback <n>', 'dataset lookback L (default 60; use the training value)', intOption('lookback', 1))
    .option('--horizon <n>', 'order horizon H (default 12)', intOption('horizon', 2))
    .option('--workers <n>', 'worker threads that build the asset series (0 = main thread)', intOption('workers', 0))
    .option('--references <labels...>', `models every other model is compared with, paired, in "All comparisons" (default: those of ${DEFAULT_REFERENCES.join(', ')} present)`)
    .option('--json', 'print the JSON report instead of Markdown')
    .option('--no-progress', 'no progress output')
    .action(async (opts: EvaluateCliOptions) => {
      await runEvaluate(opts);
    });
}
