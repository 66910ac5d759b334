/**
 * `sigvwap export-model <checkpoint> --out <file>`: the best weights and the state of a training
 * checkpoint as a shippable model (no optimizer moments; see allocators/neural/pretrained.ts),
 * loadable wherever a checkpoint is, and as `pretrained:<name>` when written to the package's
 * models/<name>.ckpt. Prints the file, its size and the model card's configuration block.
 */
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { exportModel, modelCardConfiguration } from '../allocators/neural/pretrained.js';
import { type CliIo, processIo } from './io.js';

export interface ExportModelCliOptions {
  out: string;
  json?: boolean;
}

export function runExportModel(checkpoint: string, o: ExportModelCliOptions, io: CliIo = processIo()): void {
  const state = exportModel(checkpoint, o.out);
  const bytes = statSync(o.out).size;
  if (o.json) {
    io.stdout.write(JSON.stringify({ file: o.out, bytes, label: state.label, parameters: state.parameters, model: state.model, exported: state.exported }, null, 2) + '\n');
    return;
  }
  io.stdout.write(`${o.out}: ${state.label}, ${state.parameters} parameters, best epoch ${state.bestEpoch} of ${state.epoch}, ${bytes} bytes\n\n${modelCardConfiguration(state)}`);
}

export function registerExportModelCommand(program: Command): Command {
  return program
    .command('export-model')
    .description('write the best weights of a training checkpoint as a shippable model (no optimizer state)')
    .argument('<checkpoint>', 'training checkpoint (.ckpt)')
    .requiredOption('--out <file>', 'model file to write (atomically), e.g. models/dynamic.ckpt for pretrained:dynamic')
    .option('--json', 'print JSON')
    .action((checkpoint: string, opts: ExportModelCliOptions) => {
      runExportModel(checkpoint, opts);
    });
}
