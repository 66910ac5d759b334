/**
 * `sigvwap schedule --model CKPT|twap|histCurve --asset BTCUSDT --start 2022-06-01T00:00Z
 * [--horizon 12] [--side buy] [--quantity Q] [--store DIR] [--json]`: the allocation of one
 * order over its bars from the latest bars in the store (nothing at or after the start bar is
 * read by a causal model). Table or JSON to stdout.
 */
import { Option, type Command } from 'commander';
import { DEFAULT_STORE_DIR } from '../data/index.js';
import { registeredAllocators } from '../allocators/index.js';
import { scheduleOrder, type Schedule, type Side } from '../execution/scheduleOrder.js';
import { type CliIo, intOption, numberOption, processIo } from './io.js';

export interface ScheduleCliOptions {
  model: string;
  asset: string;
  start: string;
  horizon?: number;
  side: Side;
  quantity?: number;
  store: string;
  json?: boolean;
}

export function formatSchedule(s: Schedule): string {
  const lines = [
    `${s.side} ${s.asset} over ${s.horizon} bars from ${new Date(s.startMs).toISOString()} with ${s.model}${s.causal ? '' : ' (LOOKAHEAD: not causal)'}; history to ${new Date(s.historyEndMs).toISOString()}`,
    ['bar', 'open time', 'fraction', 'quantity', 'firm'].join('\t'),
  ];
  s.bars.forEach((b, t) => lines.push([t, b.openTime, b.fraction.toFixed(6), b.quantity === null ? '' : b.quantity.toPrecision(8), b.firm ? 'yes' : 'plan'].join('\t')));
  return lines.join('\n') + '\n';
}

export function runSchedule(o: ScheduleCliOptions, io: CliIo = processIo()): Schedule {
  const schedule = scheduleOrder({ model: o.model, store: o.store, asset: o.asset, start: o.start, horizon: o.horizon, side: o.side, quantity: o.quantity });
  io.stdout.write(o.json ? JSON.stringify(schedule, null, 2) + '\n' : formatSchedule(schedule));
  return schedule;
}

export function registerScheduleCommand(program: Command): Command {
  return program
    .command('schedule')
    .description('the schedule of one order from a trained model and the bars in the store')
    .requiredOption('--model <name|ckpt>', `a registered allocator (${registeredAllocators().map((e) => e.name).join(', ')}) a checkpoint path, or a shipped model pretrained:<name>`)
    .requiredOption('--asset <symbol>', 'asset, e.g. BTCUSDT')
    .requiredOption('--start <time>', 'open time of the first bar, ISO-8601 (e.g. 2022-06-01T00:00Z)')
    .option('--horizon <n>', "bars of the order (default: the model's)", intOption('horizon', 1))
    .addOption(new Option('--side <side>', 'order side').choices(['buy', 'sell']).default('buy'))
    .option('--quantity <q>', 'total quantity to split', numberOption('quantity'))
    .option('--store <dir>', 'bar store', DEFAULT_STORE_DIR)
    .option('--json', 'print JSON')
    .action((opts: ScheduleCliOptions) => {
      runSchedule(opts);
    });
}
