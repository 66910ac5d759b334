/**
 * Locate `../shared` (research data and test vectors beside the repository).
 * A user's clone has none: tests that need it skip with a visible message.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of ../shared/<sub>, or undefined (after printing SKIPPED) when absent. */
export function sharedPath(sub: string, who: string): string | undefined {
  const p = join(repoRoot, '..', 'shared', sub);
  if (!existsSync(p)) {
    console.warn(`SKIPPED ${who}: ../shared/${sub} not found (a clone without the research data)`);
    return undefined;
  }
  return p;
}
