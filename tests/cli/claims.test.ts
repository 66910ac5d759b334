/**
 * Issue I #11: the README and the CLI claimed backtests that do not exist yet. Until a
 * `backtest` command is registered, no user-facing text claims one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerCommands } from '../../src/cli/commands.js';
import { REPO_ROOT } from '../helpers/market.js';

describe('no claim beyond what works', () => {
  const program = new Command();
  registerCommands(program);
  const hasBacktest = program.commands.some((c) => c.name() === 'backtest');
  const main = readFileSync(join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'utf8');

  it.each([
    ['README.md intro', readFileSync(join(REPO_ROOT, 'README.md'), 'utf8').split('\n## ')[0]!],
    ['package.json description', (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { description: string }).description],
    ['the CLI description', /\.description\('([^']*)'\)/.exec(main)![1]!],
  ])('%s mentions backtests only when the command exists', (_name, text) => {
    if (!hasBacktest) expect(text).not.toMatch(/backtests? (such|at|with)|execution backtests|and backtests/i);
  });
});
