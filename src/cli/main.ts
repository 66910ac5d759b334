#!/usr/bin/env node
/**
 * The `sigvwap` command. Results go to stdout (`--json` for machines),
 * logs and progress to stderr; NO_COLOR is honoured by the subcommands. Every failure is one
 * line on stderr, `sigvwap: ERR_X: message` (exit 1), plus `{"error": {...}}` on stdout with
 * --json; a failure that is not a SigvwapError is a bug and says so (SIGVWAP_DEBUG=1 adds the
 * stack).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { Command } from '@commander-js/extra-typings';

import { SigvwapError } from '../errors.js';
import { backendInfo } from '../native/backend.js';
import { nativeBackendStatus } from '../ops/backend.js';
import { initWasmBackend } from '../ops/wasmBackend.js';
import { registerCommands } from './commands.js';
import { cliErrorJson, formatCliError } from './io.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('sigvwap')
  .description('Learned VWAP execution: data, models trained on the VWAP loss, evaluation, schedules, path signatures')
  .version(pkg.version)
  .option('--plugin <module>', 'import a module before the command, e.g. one that calls registerAllocator (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
  .hook('preAction', async (root) => {
    // plugins extend the registries (allocators, ...) before any command resolves a name
    for (const m of (root.opts() as { plugin?: string[] }).plugin ?? []) {
      const spec = m.startsWith('.') || m.startsWith('/') ? pathToFileURL(resolve(m)).href : m;
      try {
        await import(spec);
      } catch (e) {
        throw new SigvwapError('ERR_ARG', `--plugin: cannot import ${m}: ${(e as Error).message}`, { argument: 'plugin', value: m }, { cause: e });
      }
    }
  });

program
  .command('info')
  .description('show the native backend (version, SIMD level, threads, CUDA status), the tfjs backend models run on, and the wasm peer backend')
  .option('--json', 'print JSON')
  .action(async (opts) => {
    const info = backendInfo();
    // what models train and run on by default: the native tfjs backend, or tfjs' CPU backend and
    // why; and what `--backend wasm` would run (initialising it takes ~10 ms)
    const tfjs = nativeBackendStatus();
    const wasm = await initWasmBackend();
    const wasmJson = wasm.available ? { available: true, binary: wasm.binary, threads: wasm.threads } : { available: false, reason: wasm.reason };
    const models = { ...(tfjs.available ? { backend: 'native' } : { backend: 'cpu', reason: tfjs.reason }), wasm: wasmJson };
    if (opts.json) {
      console.log(JSON.stringify({ ...info, models }, null, 2));
      return;
    }
    console.log(`sigvwap ${pkg.version} (native ${info.version})`);
    console.log(`binary   ${info.binary}`);
    console.log(`simd     ${info.simd}`);
    console.log(`threads  ${info.threads}`);
    console.log(
      `cuda     compiled=${info.cuda.compiled} available=${info.cuda.available}` +
        (info.cuda.devices.length ? ` devices=${info.cuda.devices.join(', ')}` : '') +
        (info.cuda.reason ? `\n         reason: ${info.cuda.reason}` : ''),
    );
    console.log(`models   tfjs backend ${tfjs.available ? "native ('sigvwap': native kernels and the fused LSTM)" : `cpu (${tfjs.reason})`}`);
    console.log(`wasm     ${wasm.available ? `${wasm.binary}, ${wasm.threads} thread${wasm.threads === 1 ? '' : 's'} (--backend wasm)` : `unavailable (${wasm.reason})`}`);
  });

registerCommands(program as unknown as import("commander").Command);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.exitCode = 1;
  process.stderr.write(`${formatCliError(e)}\n`);
  // machines that asked for JSON get the error as JSON on stdout too
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ error: cliErrorJson(e) })}\n`);
}
