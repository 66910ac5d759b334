/**
 * Decimal text -> double, straight from bytes (no string allocation).
 *
 * Fast path (Clinger 1990): with at most 15 significant digits the digits form an
 * integer m < 2^53 held exactly, 10^k (k <= 22) is exact, and one IEEE division
 * m / 10^k is correctly rounded, so the result is bit-identical to `Number(text)`.
 * Anything else (exponents, more digits) falls back to `Number` on the decoded
 * text after a strict syntax check. Cost: one pass over the bytes.
 */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);
const STRICT_DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const latin1 = new TextDecoder('latin1');

/** NaN when bytes[start, end) is not a decimal number. */
export function parseDecimal(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  let negative = false;
  const first = bytes[i];
  if (first === 45 || first === 43) {
    negative = first === 45;
    i++;
  }
  let mantissa = 0;
  let significant = 0;
  let fraction = 0;
  let digits = 0;
  let dot = false;
  for (; i < end; i++) {
    const c = bytes[i]!;
    if (c >= 48 && c <= 57) {
      digits++;
      if (mantissa !== 0 || c !== 48) {
        mantissa = mantissa * 10 + (c - 48);
        significant++;
      }
      if (dot) fraction++;
    } else if (c === 46 && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (i === end && digits > 0 && significant <= 15 && fraction <= 22) {
    const v = fraction === 0 ? mantissa : mantissa / POW10[fraction]!;
    return negative ? -v : v;
  }
  return parseDecimalSlow(bytes, start, end);
}

function parseDecimalSlow(bytes: Uint8Array, start: number, end: number): number {
  const text = latin1.decode(bytes.subarray(start, end));
  return STRICT_DECIMAL.test(text) ? Number(text) : NaN;
}

/** Non-negative integer up to 2^53 - 1 (digits only); NaN otherwise. */
export function parseUnsignedInteger(bytes: Uint8Array, start: number, end: number): number {
  if (end <= start || end - start > 16) return NaN;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c < 48 || c > 57) return NaN;
    v = v * 10 + (c - 48);
  }
  return v <= Number.MAX_SAFE_INTEGER ? v : NaN;
}
