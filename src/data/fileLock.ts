/**
 * Writer locks: one writer at a time per store, checkpoint or results folder, across threads
 * and processes on this machine.
 *
 * The lock is a file created with O_EXCL (`wx`) holding {pid, host, createdAt, what}; it is
 * removed when the holder finishes (also when it throws). A waiting writer polls every
 * `pollMs` until `timeoutMs`, then fails with ERR_IO naming the holder. A lock whose holder
 * is gone (same host, process not alive) is stale and is broken. Two writers that find the
 * same stale lock at the same instant can both break it: a crash of one writer followed by a
 * race of two others within milliseconds; accepted and documented (README, Reliability).
 * Cost: one file create and remove per locked operation.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { SigvwapError } from '../errors.js';
import { ensureDir, writeFileAtomic } from './writeFileAtomic.js';

export interface LockOptions {
  /** how long to wait for another writer, ms (default 60 s) */
  timeoutMs?: number;
  pollMs?: number;
}

interface LockInfo {
  pid: number;
  host: string;
  createdAt: string;
  what: string;
}

/** Run `fn` holding the lock file `lockPath`; `what` names the resource in errors. */
export async function withFileLock<T>(lockPath: string, what: string, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  await acquire(lockPath, what, options);
  try {
    return await fn();
  } finally {
    rmSync(lockPath, { force: true });
  }
}

async function acquire(lockPath: string, what: string, o: LockOptions): Promise<void> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  const pollMs = o.pollMs ?? 25;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (tryCreate(lockPath, what)) return;
    const holder = readHolder(lockPath);
    if (holder && isStale(holder)) {
      rmSync(lockPath, { force: true });
      continue;
    }
    if (performance.now() >= deadline) {
      const who = holder ? `pid ${holder.pid} on ${holder.host} since ${holder.createdAt}` : 'another writer';
      throw new SigvwapError('ERR_IO', `${what} is being written by ${who}; waited ${Math.round(timeoutMs / 1000)} s. Retry when it is done (or remove ${lockPath} if no sigvwap process is running)`, {
        file: lockPath, holder,
      });
    }
    await sleep(pollMs);
  }
}

function tryCreate(lockPath: string, what: string): boolean {
  const info: LockInfo = { pid: process.pid, host: hostname(), createdAt: new Date().toISOString(), what };
  try {
    writeFileSync(lockPath, JSON.stringify(info) + '\n', { flag: 'wx' });
    return true;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EEXIST') return false;
    throw new SigvwapError('ERR_IO', `cannot create the lock ${lockPath}: ${e.code ?? e.message}`, { file: lockPath, errno: e.code }, { cause: err });
  }
}

function readHolder(lockPath: string): LockInfo | undefined {
  try {
    return JSON.parse(readFileSync(lockPath, 'utf8')) as LockInfo;
  } catch {
    // removed meanwhile, or being written: look again at the next poll
    return undefined;
  }
}

function isStale(h: LockInfo): boolean {
  if (h.host !== hostname() || !Number.isInteger(h.pid)) return false;
  try {
    process.kill(h.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Write files into a results folder (created if absent) under the folder's lock, each
 * atomically: a reader sees either the previous set or the new one, file by file.
 */
export async function writeResultFiles(dir: string, files: Readonly<Record<string, Uint8Array | string>>): Promise<string[]> {
  ensureDir(dir, 'results folder');
  const paths = Object.keys(files).map((name) => join(dir, name));
  await withFileLock(join(dir, '.lock'), `the results folder ${dir}`, () => {
    for (const [name, data] of Object.entries(files)) writeFileAtomic(join(dir, name), data);
  });
  return paths;
}

