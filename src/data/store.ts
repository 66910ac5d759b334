/**
 * The bar store: one Arrow IPC file per asset and interval (`<SYMBOL>-<interval>.arrow`)
 * in a store directory, plus `manifest.json` at its root:
 *   { "version": 1, "assets": { "<SYMBOL>": { rows, start, end, interval, file,
 *     sources: [{file, sha256}], changes: [...] } } }
 * Arrow schema: open_time_ms int64 (ms), open/high/low/close/volume/quote_volume float64,
 * trades int32 nullable; one record batch, so reading gives zero-copy typed arrays
 * (a view into the file bytes). quote_volume is declared nullable only in files of assets
 * that have bars without quote volume (US equity minute bars): those bars are null in the
 * validity bitmap and NaN in the value buffer, so the zero-copy read gives NaN. Files of
 * assets with quote volume on every bar (every store written before, Binance data) keep the
 * non-nullable field and are byte-identical to before; both read the same way. The asset file's schema metadata repeats its manifest
 * entry, so the file alone says which sources it holds. Every write is atomic.
 * A store holds one interval per symbol (use another store for another interval).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  Field, Float64, Int32, Int64, RecordBatch, Schema, Struct, Table, makeData, tableFromIPC, tableToIPC,
} from 'apache-arrow';
import { z } from 'zod';
import { SigvwapError } from '../errors.js';
import { allocBarTable, type BarTable } from './barTable.js';
import { ensureDir, writeFileAtomic } from './writeFileAtomic.js';

export const DEFAULT_STORE_DIR = '.sigvwap/store';
export const MANIFEST_FILE = 'manifest.json';
/** held by the one process writing the store (fileLock.ts) */
export const STORE_LOCK_FILE = '.lock';

const sourceSchema = z.object({ file: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) });

const changeSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('duplicate'),
    policy: z.enum(['keep-first', 'keep-last']),
    openTime: z.string(),
    identical: z.boolean(),
    kept: z.object({ file: z.string(), line: z.number() }),
    dropped: z.array(z.object({ file: z.string(), line: z.number() })),
  }),
  z.object({ kind: z.literal('unsorted'), policy: z.literal('sort'), file: z.string(), rows: z.number(), firstLine: z.number() }),
  z.object({
    kind: z.literal('invalid-bar'),
    policy: z.literal('drop'),
    openTime: z.string(),
    file: z.string(),
    line: z.number(),
    reason: z.string(),
  }),
]);

/** A change that an ingest policy made to the data; listed in the quality report. */
export type PolicyChange = z.infer<typeof changeSchema>;

const assetEntrySchema = z.object({
  rows: z.number().int().nonnegative(),
  /** ISO-8601 UTC open time of the first and last bar */
  start: z.string(),
  end: z.string(),
  interval: z.string(),
  file: z.string(),
  /** sha256 of the asset file's bytes (absent in stores written before checksums) */
  fileSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  hasTrades: z.boolean(),
  sources: z.array(sourceSchema),
  changes: z.array(changeSchema),
});
export type ManifestAsset = z.infer<typeof assetEntrySchema>;

const manifestSchema = z.object({ version: z.literal(1), assets: z.record(z.string(), assetEntrySchema) });
export type StoreManifest = z.infer<typeof manifestSchema>;

export function manifestPath(storeDir: string): string {
  return join(storeDir, MANIFEST_FILE);
}

export function assetFileName(symbol: string, interval: string): string {
  return `${symbol}-${interval}.arrow`;
}

/** The manifest, or an empty one when the store does not exist yet. */
export function readManifest(storeDir: string): StoreManifest {
  const path = manifestPath(storeDir);
  if (!existsSync(path)) return { version: 1, assets: {} };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new SigvwapError('ERR_IO', `cannot read store manifest ${path}: ${(err as Error).message}`, { file: path }, { cause: err });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new SigvwapError('ERR_IO', `store manifest ${path} is not a sigvwap manifest: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`, { file: path });
  }
  return parsed.data;
}

/** The manifest of an existing store; ERR_IO naming the directory when there is none. */
export function openStoreManifest(storeDir: string): StoreManifest {
  if (!existsSync(manifestPath(storeDir))) {
    throw new SigvwapError('ERR_IO', `no sigvwap store at ${resolve(storeDir)} (no ${MANIFEST_FILE}); run \`sigvwap ingest\` first`, { store: storeDir });
  }
  return readManifest(storeDir);
}

export function writeManifest(storeDir: string, manifest: StoreManifest): void {
  ensureDir(storeDir, 'store');
  writeFileAtomic(manifestPath(storeDir), JSON.stringify(manifest, null, 2) + '\n');
}

const FLOAT_COLUMNS = [
  ['open', 'open'], ['high', 'high'], ['low', 'low'], ['close', 'close'], ['volume', 'volume'], ['quote_volume', 'quoteVolume'],
] as const;

/** Arrow IPC file bytes of one asset's bars; `meta` goes into the schema metadata. */
export function encodeAssetFile(bars: BarTable, meta: ManifestAsset): Uint8Array {
  const n = bars.length;
  // quote volume unknown (NaN) on some bar: a nullable field with a validity bitmap
  const quoteValidity = new Uint8Array((n + 7) >> 3);
  let quoteNulls = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(bars.quoteVolume[i]!)) quoteNulls++;
    else quoteValidity[i >> 3]! |= 1 << (i & 7);
  }
  const fields = [
    new Field('open_time_ms', new Int64(), false),
    ...FLOAT_COLUMNS.map(([name]) => new Field(name, new Float64(), name === 'quote_volume' && quoteNulls > 0)),
    new Field('trades', new Int32(), true),
  ];
  const time = new BigInt64Array(n);
  for (let i = 0; i < n; i++) time[i] = BigInt(bars.openTimeMs[i]!);
  const trades = new Int32Array(n);
  const validity = new Uint8Array((n + 7) >> 3);
  let nullCount = 0;
  for (let i = 0; i < n; i++) {
    const t = bars.trades[i]!;
    if (Number.isNaN(t)) nullCount++;
    else {
      trades[i] = t;
      validity[i >> 3]! |= 1 << (i & 7);
    }
  }
  const children = [
    makeData({ type: new Int64(), length: n, data: time }),
    ...FLOAT_COLUMNS.map(([, key]) => key === 'quoteVolume' && quoteNulls > 0
      ? makeData({ type: new Float64(), length: n, nullCount: quoteNulls, nullBitmap: quoteValidity, data: bars[key].slice(0, n) })
      : makeData({ type: new Float64(), length: n, data: bars[key].slice(0, n) })),
    makeData({ type: new Int32(), length: n, nullCount, nullBitmap: nullCount > 0 ? validity : null, data: trades }),
  ];
  const schema = new Schema(fields, new Map([['sigvwap', JSON.stringify(meta)]]));
  const batch = new RecordBatch(schema, makeData({ type: new Struct(fields), length: n, children }));
  return tableToIPC(new Table([batch]), 'file');
}

export interface AssetFile {
  bars: BarTable;
  /** sha256 of the file's bytes */
  sha256: string;
  /** the manifest entry stored in the file's schema metadata */
  meta: ManifestAsset | undefined;
}

/** Decode an asset file's bytes; ERR_IO naming `file` when it is not a valid store file. */
export function decodeAssetFile(bytes: Uint8Array, file: string): Omit<AssetFile, 'sha256'> {
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (err) {
    throw new SigvwapError('ERR_IO', `store file ${file} is not a readable Arrow IPC file: ${(err as Error).message}`, { file }, { cause: err });
  }
  const n = table.numRows;
  const bars = allocBarTable(0);
  bars.length = n;
  const column = (name: string) => {
    const col = table.getChild(name);
    if (!col) throw new SigvwapError('ERR_IO', `store file ${file} lacks column ${name}`, { file, column: name });
    return col;
  };
  const single = <T>(name: string, values: (d: { values: unknown }) => T): T => {
    const col = column(name);
    // One record batch: the column's buffer is a view into the file bytes (zero copy).
    if (col.data.length === 1) return values(col.data[0] as { values: unknown });
    throw new SigvwapError('ERR_IO', `store file ${file} has ${col.data.length} record batches; expected 1`, { file });
  };
  const time = single('open_time_ms', (d) => d.values as BigInt64Array);
  // int64 -> double through two 32-bit halves (little-endian): no BigInt per row.
  const halves = new Int32Array(time.buffer, time.byteOffset, 2 * n);
  bars.openTimeMs = new Float64Array(n);
  for (let i = 0; i < n; i++) bars.openTimeMs[i] = halves[2 * i + 1]! * 4294967296 + (halves[2 * i]! >>> 0);
  for (const [name, key] of FLOAT_COLUMNS) {
    const d = single(name, (x) => x as unknown as { values: Float64Array; nullBitmap: Uint8Array | null | undefined; nullCount: number; offset: number });
    let values = d.values.subarray(0, n);
    if (d.nullCount > 0 && d.nullBitmap) {
      // null = unknown (only quote_volume is written with nulls): NaN, whatever the buffer holds
      values = values.slice();
      for (let i = 0; i < n; i++) {
        const j = i + d.offset;
        if (!((d.nullBitmap[j >> 3]! >> (j & 7)) & 1)) values[i] = NaN;
      }
    }
    bars[key] = values;
  }
  const trades = single('trades', (d) => d as unknown as { values: Int32Array; nullBitmap: Uint8Array | null | undefined; nullCount: number; offset: number });
  bars.trades = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const j = i + trades.offset;
    const valid = trades.nullCount === 0 || !trades.nullBitmap || (trades.nullBitmap[j >> 3]! >> (j & 7)) & 1;
    bars.trades[i] = valid ? trades.values[i]! : NaN;
  }
  let meta: ManifestAsset | undefined;
  const raw = table.schema.metadata.get('sigvwap');
  if (raw !== undefined) {
    const parsed = assetEntrySchema.safeParse(JSON.parse(raw));
    if (parsed.success) meta = parsed.data;
  }
  return { bars, meta };
}

/**
 * Read one asset's file from the store, verified against the manifest's checksum when the
 * entry has one (ERR_DATA naming the file when a byte changed after ingest). `verify: false`
 * is for ingest, which repairs a manifest left behind by a crash between the two writes.
 */
export function readStoreAsset(storeDir: string, entry: Pick<ManifestAsset, 'file' | 'fileSha256'>, options: { verify?: boolean } = {}): AssetFile {
  const path = join(storeDir, entry.file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new SigvwapError('ERR_IO', `cannot read store file ${path}: ${e.code ?? e.message}`, { file: path, errno: e.code }, { cause: err });
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (options.verify !== false && entry.fileSha256 !== undefined && entry.fileSha256 !== sha256) {
    throw new SigvwapError('ERR_DATA', `store file ${path} does not match its checksum in ${MANIFEST_FILE} (sha256 ${sha256.slice(0, 12)}…, expected ${entry.fileSha256.slice(0, 12)}…): it was changed or corrupted after ingest; ingest its sources into a new store`, {
      file: path, sha256, expected: entry.fileSha256,
    });
  }
  return { ...decodeAssetFile(bytes, path), sha256 };
}

/** Write one asset's file atomically; returns the sha256 of its bytes (for the manifest). */
export function writeStoreAsset(storeDir: string, bars: BarTable, meta: ManifestAsset): string {
  ensureDir(storeDir, 'store');
  const bytes = encodeAssetFile(bars, meta);
  writeFileAtomic(join(storeDir, meta.file), bytes);
  return createHash('sha256').update(bytes).digest('hex');
}

/** ERR_ARG for a symbol the store lacks, suggesting the one the caller probably meant. */
export function unknownAssetError(symbol: string, manifest: StoreManifest, storeDir: string, argument: string): SigvwapError {
  const held = Object.keys(manifest.assets);
  const upper = symbol.toUpperCase();
  const guess = held.find((s) => s.toUpperCase() === upper) ?? held.find((s) => s.toUpperCase().startsWith(upper) && upper.length >= 2);
  const hint = guess ? `; did you mean ${guess}?` : held.length <= 12 ? ` (it holds ${held.join(', ') || 'no asset'})` : ` (it holds ${held.length} assets)`;
  return new SigvwapError('ERR_ARG', `${argument}: ${symbol} is not in the store ${storeDir}${hint}`, { argument, value: symbol, ...(guess ? { suggestion: guess } : {}) });
}
