/**
 * `sigvwap qc [--store DIR] [--json]`: the data-quality report of the bar store.
 * Human-readable table (stdout) or JSON with ISO-8601 UTC times (--json).
 */
import type { Command } from 'commander';
import { DEFAULT_STORE_DIR, qcReportToJson, qualityReport, type QcReport } from '../data/index.js';
import { type CliIo, processIo, useColor } from './io.js';

export interface QcCliOptions {
  store: string;
  json?: boolean;
  vwapTolerance?: string;
  exchangeWideShare?: string;
  maxExamples?: string;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(':00.000Z', 'Z');

export function runQc(opts: QcCliOptions, io: CliIo = processIo()): QcReport {
  const report = qualityReport({
    store: opts.store,
    ...(opts.vwapTolerance !== undefined ? { vwapTolerance: Number(opts.vwapTolerance) } : {}),
    ...(opts.exchangeWideShare !== undefined ? { exchangeWideShare: Number(opts.exchangeWideShare) } : {}),
    ...(opts.maxExamples !== undefined ? { maxExamples: Number(opts.maxExamples) } : {}),
  });
  io.stdout.write(opts.json ? JSON.stringify(qcReportToJson(report), null, 2) + '\n' : formatQc(report, useColor(io.stdout, io.env)));
  return report;
}

export function formatQc(r: QcReport, color: boolean): string {
  const warn = (s: string | number, bad: boolean) => (color && bad ? `\x1b[33m${s}\x1b[39m` : String(s));
  const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[22m` : s);
  const out = [
    bold(['symbol', 'interval', 'rows', 'start', 'end', 'missing', 'gaps(asset-specific)', 'dup', 'unsorted', 'misaligned', 'zero-vol', 'longest-zero-run', 'price<=0', 'ohlc', 'neg-vol', `vwap-out(${r.vwapTolerance})`, 'non-finite', 'checksum', 'changes'].join('\t')),
  ];
  for (const a of r.assets) {
    const specific = a.gaps.filter((g) => g.exchangeWide !== true).length;
    out.push([
      a.symbol, a.interval, a.rows, iso(a.startMs), iso(a.endMs), warn(a.missingBars, a.missingBars > 0), `${a.gaps.length}(${specific})`,
      warn(a.duplicateTimestamps.count, a.duplicateTimestamps.count > 0), warn(a.unsortedTimestamps.count, a.unsortedTimestamps.count > 0),
      warn(a.misalignedTimestamps.count, a.misalignedTimestamps.count > 0), warn(a.zeroVolume.rows, a.zeroVolume.rows > 0),
      a.zeroVolume.longestRun ? `${a.zeroVolume.longestRun.bars}@${iso(a.zeroVolume.longestRun.startMs)}` : '-',
      warn(a.nonPositivePrice.count, a.nonPositivePrice.count > 0), warn(a.ohlcInconsistent.count, a.ohlcInconsistent.count > 0),
      warn(a.negativeVolume.count, a.negativeVolume.count > 0), warn(a.vwapOutsideRange.count, a.vwapOutsideRange.count > 0),
      warn(a.nonFinite.count, a.nonFinite.count > 0), warn(a.checksum, a.checksum === 'mismatch'),
      warn(a.changes.length, a.changes.length > 0),
    ].join('\t'));
  }
  out.push('', bold(`exchange-wide gaps (missing in >= ${r.exchangeWideShare * 100}% of the assets listed then): ${r.exchangeWideGaps.length}`));
  for (const g of r.exchangeWideGaps) out.push(`  ${iso(g.startMs)} +${g.bars} bars (${g.sharedBy}/${g.listed} assets)`);
  const specific = r.assets.flatMap((a) => a.gaps.filter((g) => g.exchangeWide !== true).map((g) => ({ symbol: a.symbol, g })));
  out.push('', bold(`asset-specific gaps (or unknown with fewer assets): ${specific.length}`));
  for (const { symbol, g } of specific) out.push(`  ${symbol} ${iso(g.startMs)} +${g.bars} bars (${g.sharedBy}/${g.listed} assets)`);
  const changes = r.assets.flatMap((a) => a.changes.map((c) => `  ${a.symbol}: ${JSON.stringify(c)}`));
  out.push('', bold(`changes made by ingest policies: ${changes.length}`), ...changes);
  return out.join('\n') + '\n';
}

export function registerQcCommand(program: Command): Command {
  return program
    .command('qc')
    .description('data-quality report of the bar store')
    .option('--store <dir>', 'store directory', DEFAULT_STORE_DIR)
    .option('--json', 'print the report as JSON (times as ISO-8601 UTC)')
    .option('--vwap-tolerance <fraction>', 'relative tolerance of the VWAP-in-[low, high] check', '0.01')
    .option('--exchange-wide-share <fraction>', 'share of listed assets missing a bar for its gap to count as exchange-wide', '0.5')
    .option('--max-examples <n>', 'example times listed per check', '20')
    .action((opts: QcCliOptions) => {
      runQc(opts);
    });
}
