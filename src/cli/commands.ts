/**
 * Subcommands contributed by the layers (data, models, evaluation). Each
 * layer exports a `registerXxxCommand(program)`; they are imported lazily so
 * that `sigvwap info` works even when a layer's dependencies fail to load.
 */
import type { Command } from 'commander';

type Register = (program: Command) => void;

const layers: { module: string; exports: string[] }[] = [
  { module: './ingest.js', exports: ['registerIngestCommand'] },
  { module: './qc.js', exports: ['registerQcCommand'] },
];

export async function registerCommands(program: Command): Promise<void> {
  for (const layer of layers) {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(layer.module)) as Record<string, unknown>;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(layer.module.slice(2))) continue;
      throw e;
    }
    for (const name of layer.exports) {
      const fn = mod[name];
      if (typeof fn === 'function') (fn as Register)(program);
    }
  }
}
