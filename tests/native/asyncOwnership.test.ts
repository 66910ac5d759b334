/**
 * Async ownership (issue I #1): an Async call must never read or write memory
 * that JavaScript took away while it ran.
 *
 * Rule under test (native/node/src/outbuf.rs, README "Async forms"): the
 * inputs are copied when the call is made, the kernel writes native memory,
 * and `out` is written on completion only if its buffer is still attached
 * (else the promise rejects with ERR_ARG naming `out`). So, for every Async
 * form and each of its arrays, transferring that array's buffer (to a worker
 * that overwrites it, or through structuredClone, then collected) or
 * overwriting an input right after the call must give exactly the sync
 * result, or, for `out`, the typed error.
 *
 * Each case runs in a child process (tests/fixtures/asyncTransfer.mjs): a
 * use-after-free is a crash (signal, exit 139) there and a failed case here.
 * Cost: one process per (form, array, with/without out), ~0.5 s each.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixture = join(root, 'tests/fixtures/asyncTransfer.mjs');

const forms = [
  { form: 'signatureAsync', inputs: ['path'], hasOut: true },
  { form: 'signatureBackwardAsync', inputs: ['path', 'gradOut'], hasOut: true },
  { form: 'vwapLossAsync', inputs: ['alloc', 'price', 'volume'], hasOut: false },
  { form: 'vwapLossGradAsync', inputs: ['alloc', 'price', 'volume'], hasOut: true },
  { form: 'vwapLossAndGradAsync', inputs: ['alloc', 'volume'], hasOut: true },
];

const inputCases = forms.flatMap(({ form, inputs, hasOut }) =>
  inputs.flatMap((target) => (hasOut ? [false, true] : [false]).map((withOut) => ({ form, target, withOut }))),
);
const outCases = forms.filter((f) => f.hasOut).map(({ form }) => ({ form, target: 'out', withOut: true }));

interface Row {
  method: string;
  outcome: 'resolved' | 'rejected';
  mismatches?: number;
  length?: number;
  wantLength?: number;
  returnedOut?: boolean;
  code?: string;
  argument?: string;
  message?: string;
  name?: string;
}

function run(form: string, target: string, withOut: boolean): Row[] {
  const r = spawnSync(process.execPath, ['--expose-gc', fixture, form, target, withOut ? '1' : '0'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  // A crash is a signal (SIGSEGV) or exit 139; a hang is the timeout's SIGTERM.
  expect({ status: r.status, signal: r.signal, stderr: r.stderr.slice(-2000) }).toEqual({ status: 0, signal: null, stderr: '' });
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { results: Row[] }).results;
}

describe('Async forms own their inputs: transferring or overwriting one while the call runs', () => {
  it.each(inputCases)('$form: $target (out given: $withOut) -> exit 0 and exactly the sync result', ({ form, target, withOut }) => {
    const rows = run(form, target, withOut);
    expect(rows.map((r) => r.method)).toEqual(['postMessage', 'structuredClone', 'mutate']);
    for (const row of rows) {
      expect(row, `${row.method}: ${row.message ?? ''}`).toMatchObject({ outcome: 'resolved', mismatches: 0 });
      expect(row.length).toBe(row.wantLength);
      if (withOut) expect(row.returnedOut, row.method).toBe(true);
    }
  });
});

describe('Async forms write out on completion only if it is still attached', () => {
  it.each(outCases)('$form: out transferred -> exit 0 and ERR_ARG naming out', ({ form, target, withOut }) => {
    const rows = run(form, target, withOut);
    expect(rows.map((r) => r.method)).toEqual(['postMessage', 'structuredClone']);
    for (const row of rows) {
      expect(row, row.method).toMatchObject({ outcome: 'rejected', name: 'SigvwapError', code: 'ERR_ARG', argument: 'out' });
      expect(row.message).toContain('out was detached (transferred) while the call ran');
    }
  });
});
