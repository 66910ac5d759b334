/**
 * Vega-Lite specs rendered to SVG strings in Node, headless: vega-lite `compile` gives a Vega
 * spec, a Vega `View` with renderer 'none' runs its dataflow without a DOM or a canvas, and
 * `view.toSVG()` serializes the scenegraph (vega-scenegraph's SVGStringRenderer; it escapes
 * every text and attribute). There is no canvas to measure text: Vega's fallback (0.8 em per
 * character) makes a long axis title overhang its axis and pads the chart with empty space, so
 * while a chart renders, `textMetrics.width` is replaced (Vega's hook for this, as vl-convert
 * does) by per-character advance widths of Helvetica scaled by 1.14, which covers DejaVu
 * Sans, the widest of the fonts the page's stack falls back to (Linux), and leaves a little room
 * with Helvetica, Arial, Segoe UI or San Francisco.
 *
 * No network: every spec carries its data inline, and the loader refuses any load or
 * sanitize request (a spec that names a URL fails here rather than at view time).
 * Warnings of vega-lite and vega go to `onWarning` (default: console.warn).
 * Element ids that the renderer numbers per process (clip paths, gradients) get a prefix, so
 * several SVGs inlined in one HTML document never share an id.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { SigvwapError } from '../errors.js';

/** A Vega-Lite spec as plain JSON (checked by vega-lite at compile time). */
export type VegaLiteSpec = Record<string, unknown>;

export type WarningSink = (message: string) => void;

function collectingLogger(onWarning: WarningSink): vega.LoggerInterface {
  const text = (args: unknown[]) => args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
  let level = vega.Warn;
  const logger: vega.LoggerInterface = {
    level(l?: number) {
      if (l === undefined) return level;
      level = l;
      return logger;
    },
    error(...args: unknown[]) {
      onWarning(`error: ${text(args)}`);
      return logger;
    },
    warn(...args: unknown[]) {
      if (level >= vega.Warn) onWarning(text(args));
      return logger;
    },
    info() {
      return logger;
    },
    debug() {
      return logger;
    },
  };
  return logger;
}

function offlineLoader(): vega.Loader {
  const refuse = async (uri: string): Promise<never> => {
    throw new SigvwapError('ERR_ARG', `report: a chart tried to load ${JSON.stringify(uri)}; report charts carry their data inline`, { argument: 'spec', uri });
  };
  return { ...vega.loader(), load: refuse, sanitize: refuse, http: refuse, file: refuse } as unknown as vega.Loader;
}

// Helvetica advance widths (AFM, 1/1000 em) for ' ' (32) .. '~' (126)
const HELVETICA = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' ' .. '/'
  556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // '0' .. '?'
  1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // '@' .. 'O'
  667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // 'P' .. '_'
  333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // '`' .. 'o'
  556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, //       'p' .. '~'
];
const WIDE = { '…': 1000, '−': 584, '–': 556, '—': 1000, '·': 278, '’': 222, '‘': 222, '◆': 800 } as Record<string, number>;
const FONT_SCALE = 1.14;

interface TextItem { fontSize?: number | string; fontWeight?: string | number; limit?: number }

/** Estimated width (px) of `text` in the item's font; at most `limit` when the item has one. */
export function estimateTextWidth(item: TextItem, text: unknown): number {
  const size = item.fontSize != null ? +item.fontSize || 0 : 11;
  const s = text == null ? '' : String(text).trim();
  let em = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    em += c >= 32 && c <= 126 ? HELVETICA[c - 32]! : (WIDE[ch] ?? 600);
  }
  const bold = item.fontWeight === 'bold' || Number(item.fontWeight) >= 600 ? 1.08 : 1;
  const w = (em / 1000) * size * FONT_SCALE * bold;
  // vega truncates labels with a limit by measuring prefixes: a width capped at the limit tells it
  // the full text does not fit and lets prefixes be measured as they are
  return item.limit !== undefined && item.limit > 0 ? Math.min(w, item.limit) : w;
}

interface TextMetrics { width: (item: TextItem, text: unknown) => number }

/** One Vega-Lite spec → an SVG string (`<svg ...>...</svg>`), ids prefixed with `idPrefix`. */
export async function renderVegaLiteSvg(spec: VegaLiteSpec, idPrefix: string, onWarning: WarningSink = (m) => console.warn(`report: ${m}`)): Promise<string> {
  const logger = collectingLogger(onWarning);
  const { spec: vgSpec } = compile(spec as unknown as TopLevelSpec, { logger });
  const metrics = (vega as unknown as { textMetrics: TextMetrics }).textMetrics;
  const width = metrics.width;
  metrics.width = estimateTextWidth;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none', loader: offlineLoader(), logger });
  try {
    const svg = await view.toSVG();
    return prefixIds(svg, idPrefix);
  } finally {
    view.finalize();
    metrics.width = width;
  }
}

/** Prefix every `id="…"` and `url(#…)` / `href="#…"` reference in an SVG string. */
export function prefixIds(svg: string, prefix: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, (_m, id: string) => `id="${prefix}-${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${prefix}-${id})`)
    .replace(/\bhref="#([^"]+)"/g, (_m, id: string) => `href="#${prefix}-${id}"`);
}
