/**
 * Subcommands contributed by the layers: each exports `registerXxxCommand(program)`.
 */
import type { Command } from 'commander';

import { registerIngestCommand } from './ingest.js';
import { registerQcCommand } from './qc.js';

export function registerCommands(program: Command): void {
  registerIngestCommand(program);
  registerQcCommand(program);
}
