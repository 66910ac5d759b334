/**
 * The only importer of the native addon.
 *
 * Load order (first that loads wins):
 *   1. $SIGVWAP_NATIVE_PATH, when set (an explicit .node file; then it is the
 *      only candidate: an explicit choice never falls back silently);
 *   2. the per-platform package `sigvwap-<platform>` (prebuilt binaries, an
 *      optional dependency of the published package);
 *   3. the same per-platform folder inside this package, `npm/<platform>/`
 *      (written by `npm run build:prebuilt` and by every local build);
 *   4. the local build `native/node/sigvwap.<platform>.node`.
 * If none loads, `NativeLoadError` lists every path tried and why.
 * The addon is context-aware: it loads in worker threads too.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { NativeLoadError } from '../errors.js';
import type * as Binding from '../../native/node/binding.js';

export type NativeBinding = typeof Binding;
export type { BackendInfo, CudaInfo, VwapGradResult, VwapLossResult, VwapOptions } from '../../native/node/binding.js';

const require = createRequire(import.meta.url);
/** Package root: this file is src/native/binding.ts or dist/native/binding.js. */
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function isMusl(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return !report?.header?.glibcVersionRuntime;
}

/** napi-rs platform suffix, e.g. `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`. */
export function platformSuffix(): string {
  const { platform, arch } = process;
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`;
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

export function candidatePaths(): string[] {
  const suffix = platformSuffix();
  const file = `sigvwap.${suffix}.node`;
  const paths: string[] = [];
  if (process.env.SIGVWAP_NATIVE_PATH) return [process.env.SIGVWAP_NATIVE_PATH];
  paths.push(`sigvwap-${suffix}`);
  paths.push(join(packageRoot, 'npm', suffix, file));
  paths.push(join(packageRoot, 'native', 'node', file));
  return paths;
}

let cached: { binding: NativeBinding; path: string } | undefined;

export function loadBinding(): { binding: NativeBinding; path: string } {
  cached ??= loadFrom(candidatePaths());
  return cached;
}

/** Try each candidate (a .node path or a package name) in order. */
export function loadFrom(candidates: readonly string[]): { binding: NativeBinding; path: string } {
  const tried: { path: string; error: string }[] = [];
  for (const p of candidates) {
    const isFile = p.endsWith('.node');
    if (isFile && !existsSync(p)) {
      tried.push({ path: p, error: 'no such file' });
      continue;
    }
    try {
      const binding = require(p) as NativeBinding;
      return { binding, path: isFile ? p : require.resolve(p) };
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      tried.push({ path: p, error: err.code === 'MODULE_NOT_FOUND' ? 'package not installed' : String(err.message ?? err) });
    }
  }
  throw new NativeLoadError(tried);
}

/** The loaded addon (throws NativeLoadError when it cannot be loaded). */
export function native(): NativeBinding {
  return loadBinding().binding;
}

/** Path of the loaded .node file. */
export function nativePath(): string {
  return loadBinding().path;
}
