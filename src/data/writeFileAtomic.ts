/**
 * Atomic file replacement: write a temporary file beside the target, fsync it,
 * rename it over the target (atomic on POSIX filesystems), fsync the directory.
 * A failure at any step removes the temporary file and leaves the old target intact.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SigvwapError } from '../errors.js';

export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = tempPathFor(path);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  try {
    const fd = openSync(tmp, 'wx');
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    const e = err as NodeJS.ErrnoException;
    throw new SigvwapError('ERR_IO', `cannot write ${path}: ${e.code ?? e.message}`, { file: path, errno: e.code }, { cause: err });
  }
  try {
    const dirFd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // directory fsync is unsupported on some platforms; the rename is done
  }
}

/** mkdir -p with a typed error (ERR_IO naming the directory, e.g. one that lies under a file). */
export function ensureDir(dir: string, what = 'directory'): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOTDIR' || e.code === 'EEXIST' ? 'a path component is a file, not a directory' : (e.code ?? e.message);
    throw new SigvwapError('ERR_IO', `cannot create the ${what} ${dir}: ${why}`, { file: dir, errno: e.code }, { cause: err });
  }
}
