/**
 * `sigvwap ingest <files or folders...> [--store DIR] [--on-duplicate ...] [--json]`:
 * ingest market-data files into the bar store. A progress bar goes to stderr (TTY only),
 * the summary to stdout (a table, or JSON with --json). Errors propagate as SigvwapError
 * for the main program to print.
 */
import { Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import {
  DEFAULT_STORE_DIR, DUPLICATE_POLICIES, INVALID_BAR_POLICIES, UNSORTED_POLICIES, ingest,
  type DuplicatePolicy, type IngestResult, type InvalidBarPolicy, type UnsortedPolicy,
} from '../data/index.js';
import { type CliIo, processIo, useColor } from './io.js';

export interface IngestCliOptions {
  store: string;
  onDuplicate: DuplicatePolicy;
  onUnsorted: UnsortedPolicy;
  onInvalid: InvalidBarPolicy;
  interval?: string;
  json?: boolean;
  progress?: boolean;
}

export async function runIngest(inputs: string[], opts: IngestCliOptions, io: CliIo = processIo()): Promise<IngestResult> {
  const showBar = opts.progress !== false && Boolean(io.stderr.isTTY);
  const bar = showBar
    ? new cliProgress.SingleBar(
        { stream: io.stderr, format: 'ingest [{bar}] {value}/{total} files | {file}', hideCursor: false, clearOnComplete: true },
        cliProgress.Presets.legacy,
      )
    : undefined;
  let started = false;
  try {
    const result = await ingest(inputs, {
      store: opts.store,
      onDuplicate: opts.onDuplicate,
      onUnsorted: opts.onUnsorted,
      onInvalid: opts.onInvalid,
      interval: opts.interval,
      onProgress: ({ done, total, file }) => {
        if (!bar) return;
        if (!started) {
          bar.start(total, 0, { file: '' });
          started = true;
        }
        bar.update(done, { file: file.replace(/^.*[\\/]/, '') });
      },
    });
    bar?.stop();
    started = false;
    for (const s of result.skipped) io.stderr.write(`ingest: skipped ${s.file}: ${s.reason}\n`);
    io.stdout.write(opts.json ? JSON.stringify(result, null, 2) + '\n' : formatIngest(result, useColor(io.stdout, io.env)));
    return result;
  } finally {
    if (started) bar?.stop();
  }
}

export function formatIngest(r: IngestResult, color: boolean): string {
  const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[22m` : s);
  const lines = [bold(['symbol', 'status', 'interval', 'rows', 'added', 'start', 'end', 'changes'].join('\t'))];
  for (const a of r.assets) {
    lines.push([a.symbol, a.status, a.interval, a.rows, a.rowsAdded, a.start, a.end, a.changes.length].join('\t'));
  }
  for (const a of r.assets) {
    for (const c of a.changes) lines.push(`${a.symbol}: ${JSON.stringify(c)}`);
  }
  const rate = r.elapsedMs > 0 ? Math.round(r.rowsRead / (r.elapsedMs / 1000)) : 0;
  lines.push(`${r.assets.length} assets, ${r.rowsRead} rows read in ${(r.elapsedMs / 1000).toFixed(2)} s (${rate} rows/s) into ${r.store}`);
  return lines.join('\n') + '\n';
}

export function registerIngestCommand(program: Command): Command {
  return program
    .command('ingest')
    .description('ingest Binance kline CSV/zip, sigvwap .csv.gz or Arrow files into the bar store')
    .argument('<paths...>', 'files or folders')
    .option('--store <dir>', 'store directory', DEFAULT_STORE_DIR)
    .addOption(new Option('--on-duplicate <policy>', 'duplicate open times').choices(DUPLICATE_POLICIES).default('error'))
    .addOption(new Option('--on-unsorted <policy>', 'rows out of time order inside a file').choices(UNSORTED_POLICIES).default('error'))
    .addOption(new Option('--on-invalid <policy>', 'bars with non-positive prices, OHLC inconsistencies or negative volume').choices(INVALID_BAR_POLICIES).default('keep'))
    .option('--interval <interval>', 'bar interval when file names and data do not tell (e.g. 1h)')
    .option('--json', 'print the result as JSON')
    .option('--no-progress', 'no progress bar')
    .action(async (paths: string[], opts: IngestCliOptions) => {
      await runIngest(paths, opts);
    });
}
