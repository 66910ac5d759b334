/**
 * Typed errors of sigvwap.
 *
 * Every failure the library reports is a `SigvwapError` (or a subclass) with a
 * stable `code` and a `data` object naming the offending argument, index, file
 * or line. Native errors cross the N-API boundary as `{code, message}` with the
 * data appended as JSON; `fromNative` decodes them.
 */

/** Stable error codes. Add new codes here; never rename one. */
export const ERROR_CODES = {
  ERR_SHAPE: 'an array has the wrong length or an inconsistent shape',
  ERR_ARG: 'an argument has an invalid value (range, type, option)',
  ERR_NONFINITE: 'an input holds NaN or Infinity',
  ERR_ZERO_VOLUME: 'an order has zero total market volume, so its VWAP is undefined',
  ERR_CUDA_UNAVAILABLE: "device 'cuda' was requested but CUDA cannot be used",
  ERR_PANIC: 'the native core panicked (a bug): the call was aborted safely',
  ERR_NATIVE_LOAD: 'the native addon could not be loaded',
  ERR_CSV: 'a data file is malformed (names file and line)',
  ERR_IO: 'a file could not be read or written',
  ERR_DATA: 'the data violate a quality policy (duplicates, gaps, ...)',
  ERR_WORKER: 'a worker thread failed (names the task)',
  ERR_CHECKPOINT: 'a checkpoint is missing, corrupt or made for another configuration',
  ERR_INTERNAL: 'a bug outside the native core (the CLI reports it as one, with --json as this code)',
  ERR_DIVERGED: 'training diverged: a loss or a weight became NaN or infinite (the last good checkpoint is kept)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export type ErrorData = Record<string, unknown>;

export class SigvwapError extends Error {
  readonly code: ErrorCode;
  readonly data: ErrorData;

  constructor(code: ErrorCode, message: string, data: ErrorData = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SigvwapError';
    this.code = code;
    this.data = data;
  }
}

/** Thrown by the loader when no native binary can be loaded; lists every path tried. */
export class NativeLoadError extends SigvwapError {
  readonly tried: ReadonlyArray<{ path: string; error: string }>;

  constructor(tried: ReadonlyArray<{ path: string; error: string }>) {
    const lines = tried.map((t) => `  - ${t.path}: ${t.error}`).join('\n');
    super(
      'ERR_NATIVE_LOAD',
      `sigvwap: could not load the native addon. Tried:\n${lines}\n` +
        'Install the prebuilt package for your platform, or build it with `npm run build:native` (needs a Rust toolchain).',
      { tried },
    );
    this.name = 'NativeLoadError';
    this.tried = tried;
  }
}

const CODE_SEPARATOR = '\u0001';
const DATA_SEPARATOR = '\u0000';

/** True for a string that is one of the known codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/**
 * Convert an error thrown by the native addon into a SigvwapError.
 * The addon encodes its errors in the message as `CODE \u0001 text \u0000 json`
 * (see native/node/src/errors.rs). Anything else (e.g. napi's own argument
 * conversion failures) becomes ERR_ARG with the original as `cause`.
 */
export function fromNative(err: unknown): SigvwapError {
  if (err instanceof SigvwapError) return err;
  const raw = err instanceof Error ? err.message : String(err);
  const codeCut = raw.indexOf(CODE_SEPARATOR);
  if (codeCut < 0) return new SigvwapError('ERR_ARG', raw, {}, { cause: err });
  const maybeCode = raw.slice(0, codeCut);
  const rest = raw.slice(codeCut + 1);
  const dataCut = rest.indexOf(DATA_SEPARATOR);
  const message = dataCut >= 0 ? rest.slice(0, dataCut) : rest;
  let data: ErrorData = {};
  if (dataCut >= 0) {
    try {
      data = JSON.parse(rest.slice(dataCut + 1)) as ErrorData;
    } catch {
      data = { raw: rest.slice(dataCut + 1) };
    }
  }
  const code = isErrorCode(maybeCode) ? maybeCode : 'ERR_PANIC';
  return new SigvwapError(code, message, data, { cause: err });
}
