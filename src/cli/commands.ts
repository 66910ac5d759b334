/**
 * Subcommands contributed by the layers: each exports `registerXxxCommand(program)`.
 */
import type { Command } from 'commander';

import { registerBacktestCommand } from './backtest.js';
import { registerEvaluateCommand } from './evaluate.js';
import { registerExportModelCommand } from './exportModel.js';
import { registerIngestCommand } from './ingest.js';
import { registerQcCommand } from './qc.js';
import { registerScheduleCommand } from './schedule.js';
import { registerTrainCommand } from './train.js';

export function registerCommands(program: Command): void {
  registerIngestCommand(program);
  registerQcCommand(program);
  registerTrainCommand(program);
  registerEvaluateCommand(program);
  registerScheduleCommand(program);
  registerBacktestCommand(program);
  registerExportModelCommand(program);
}
