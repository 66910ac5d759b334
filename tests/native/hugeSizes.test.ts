/**
 * Huge sizes fail fast (issue I #5): every size computation is bounded
 * (sig_length is O(1) for one channel and at most 64 checked steps
 * otherwise, depth is capped at 1024, the too-large message is a closed
 * form), so a huge `depth`, `channels` or `batch` is ERR_ARG naming that
 * argument within milliseconds instead of minutes (`sigLength(1, 2**40)`
 * took ~18 min; `depth: 2**31` spent minutes building the message or aborted
 * allocating level tables).
 *
 * A result above 4 GiB made natively (Node 20's limit for such arrays) is
 * refused the same way, before the work, naming the argument that makes it
 * large (pass `out` for such results).
 *
 * The time bound is enforced from outside: each case runs in a child process
 * killed after 10 s (a hang is a timeout there, and a failed case here), not
 * by timing a call in this process.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Run `expr` (an expression over the module `m`, maybe a Promise) in a child; its outcome as JSON. */
function inChild(expr: string): { status: number | null; signal: string | null; out: { ok?: unknown; code?: string; argument?: string; message?: string } } {
  const code = `import('./dist/index.js').then(async (m) => {
    try { const v = await (${expr}); console.log(JSON.stringify({ ok: typeof v === 'number' ? v : 'value' })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, argument: e.data?.argument, message: e.message })); }
  })`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8', timeout: 10_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return { status: r.status, signal: r.signal, out: line ? JSON.parse(line) : {} };
}

const p2 = 'new Float64Array(8)';
const opts = (o: string) => `{ batch: 1, length: 4, channels: 2, depth: 3, ${o} }`;

describe('a huge size is ERR_ARG naming the argument, within a 10 s child-process timeout', () => {
  it.each([
    { name: 'sigLength(1, 2**40)', expr: 'm.sigLength(1, 2 ** 40)', argument: 'depth' },
    { name: 'sigLength(2, 2**31)', expr: 'm.sigLength(2, 2 ** 31)', argument: 'depth' },
    { name: 'sigLength(7, 2**31 - 1)', expr: 'm.sigLength(7, 2 ** 31 - 1)', argument: 'depth' },
    { name: 'sigLength(1, 2**53)', expr: 'm.sigLength(1, 2 ** 53)', argument: 'depth' },
    { name: 'sigLength(2**40, 2): d^2 overflows', expr: 'm.sigLength(2 ** 40, 2)', argument: 'channels' },
    { name: 'sigLength(2, 70): overflow message in closed form', expr: 'm.sigLength(2, 70)', argument: 'depth' },
    { name: 'signature depth 2**31, one channel', expr: `m.signature(new Float64Array(4), { batch: 1, length: 4, channels: 1, depth: 2 ** 31 })`, argument: 'depth' },
    { name: 'signature depth 2**31', expr: `m.signature(${p2}, ${opts('depth: 2 ** 31')})`, argument: 'depth' },
    { name: 'signature stream depth 2**31', expr: `m.signature(${p2}, ${opts('depth: 2 ** 31, stream: true')})`, argument: 'depth' },
    { name: 'signatureBackward depth 2**31', expr: `m.signatureBackward(${p2}, new Float64Array(14), ${opts('depth: 2 ** 31')})`, argument: 'depth' },
    { name: 'signatureAsync depth 2**31', expr: `m.signatureAsync(${p2}, ${opts('depth: 2 ** 31')})`, argument: 'depth' },
    { name: 'signatureBackwardAsync depth 2**40', expr: `m.signatureBackwardAsync(${p2}, new Float64Array(14), ${opts('depth: 2 ** 40')})`, argument: 'depth' },
    { name: 'signature channels 2**31', expr: `m.signature(${p2}, ${opts('channels: 2 ** 31')})`, argument: 'depth' },
    { name: 'signature batch 2**31 (output too large)', expr: `m.signature(${p2}, ${opts('batch: 2 ** 31, depth: 4')})`, argument: 'batch' },
    { name: 'signature stream length 2**31', expr: `m.signature(${p2}, ${opts('length: 2 ** 31, depth: 4, stream: true')})`, argument: 'length' },
    // Results above 4 GiB cannot be handed to JavaScript as native arrays in
    // Node 20 (ERR_BUFFER_TOO_LARGE, which ended the process from an Async
    // call's completion, after the whole computation): refused before any work.
    { name: 'signatureAsync stream result of 4.8 GB', expr: `m.signatureAsync(new Float64Array(120), { batch: 3, length: 10, channels: 4, depth: 12, stream: true })`, argument: 'batch' },
    { name: 'signature stream result of 4.8 GB', expr: `m.signature(new Float64Array(120), { batch: 3, length: 10, channels: 4, depth: 12, stream: true })`, argument: 'batch' },
    { name: 'signature of 16 GB (2 channels, depth 30)', expr: `m.signature(new Float64Array(4), { batch: 1, length: 2, channels: 2, depth: 30 })`, argument: 'depth' },
  ])('$name', ({ expr, argument }) => {
    const r = inChild(expr);
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null });
    expect(r.out).toMatchObject({ code: 'ERR_ARG', argument });
  });

  it.each([
    { name: 'sigLength(1, 1024): the largest depth', expr: 'm.sigLength(1, 1024)', want: 1024 },
    { name: 'sigLength(2, 33)', expr: 'm.sigLength(2, 33)', want: 2 ** 34 - 2 },
  ])('$name still works', ({ expr, want }) => {
    const r = inChild(expr);
    expect(r.out).toEqual({ ok: want });
  });
});
