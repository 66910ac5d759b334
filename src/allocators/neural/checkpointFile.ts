/**
 * The single-file container of checkpoints and saved models, written atomically (temp file,
 * fsync, rename: a reader sees the old file or the new one, never a torn one), and a tfjs
 * IOHandler on top of it (tfjs has no file-system model IO without tfjs-node).
 *
 * Layout (version 2): bytes 0..7 the magic "SVWCKPT2"; a uint32 little-endian header length
 * n; 32 bytes of sha256 over everything after them (header and payload, so an edited offset or
 * option is caught, not only a changed weight); n bytes of UTF-8 JSON (the header: any object,
 * plus `binaryBytes` and `binarySha256` of the payload); then the binary payload. Weights are
 * float32 little-endian, packed one after another; the header lists {name, shape, offset,
 * length} for each (offsets in bytes). Version 1 files ("SVWCKPT1": no 32-byte checksum, only
 * the payload's) are still read.
 * Cost: one write of header + payload; reading hashes the file once (twice the payload).
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, readSync } from 'node:fs';
import { dirname } from 'node:path';
import { SigvwapError } from '../../errors.js';
import { writeFileAtomic } from '../../data/writeFileAtomic.js';
import type { NamedWeights } from './neuralAllocator.js';
import { tf } from '../../ops/tf.js';

const MAGIC = 'SVWCKPT2';
const MAGIC_V1 = 'SVWCKPT1';
/** magic, header length, file checksum */
const PREFIX_BYTES = 8 + 4 + 32;

export interface WeightEntry {
  name: string;
  shape: number[];
  /** byte offset in the payload */
  offset: number;
  /** number of float32 values */
  length: number;
}

export interface Container {
  header: Record<string, unknown>;
  binary: Uint8Array;
}

/** Write header + payload atomically (creates the directory). */
export function writeContainer(path: string, header: Record<string, unknown>, binary: Uint8Array): void {
  const full = { ...header, binaryBytes: binary.length, binarySha256: createHash('sha256').update(binary).digest('hex') };
  const json = Buffer.from(JSON.stringify(full), 'utf8');
  const bytes = new Uint8Array(PREFIX_BYTES + json.length + binary.length);
  bytes.set(Buffer.from(MAGIC, 'latin1'), 0);
  new DataView(bytes.buffer).setUint32(8, json.length, true);
  bytes.set(json, PREFIX_BYTES);
  bytes.set(binary, PREFIX_BYTES + json.length);
  bytes.set(createHash('sha256').update(bytes.subarray(PREFIX_BYTES)).digest(), 12);
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, bytes);
}

/** True when `path` is a file that starts with the container's magic bytes (one 8-byte read). */
export function isContainerFile(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(8);
    return readSync(fd, head, 0, 8, 0) === 8 && (head.toString('latin1') === MAGIC || head.toString('latin1') === MAGIC_V1);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Read and verify a container; ERR_CHECKPOINT when missing, truncated or corrupt. */
export function readContainer(path: string): Container {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new SigvwapError('ERR_CHECKPOINT', `cannot read checkpoint ${path}: ${e.code ?? e.message}`, { file: path, errno: e.code }, { cause: err });
  }
  const bad = (why: string) => new SigvwapError('ERR_CHECKPOINT', `${path} is not a valid sigvwap checkpoint: ${why}`, { file: path });
  const magic = bytes.length >= 12 ? bytes.toString('latin1', 0, 8) : '';
  if (magic !== MAGIC && magic !== MAGIC_V1) throw bad('wrong magic bytes');
  const start = magic === MAGIC ? PREFIX_BYTES : 12;
  if (bytes.length < start) throw bad('truncated header');
  const n = bytes.readUInt32LE(8);
  if (start + n > bytes.length) throw bad('truncated header');
  if (magic === MAGIC && !createHash('sha256').update(bytes.subarray(start)).digest().equals(bytes.subarray(12, PREFIX_BYTES))) {
    throw bad('file checksum mismatch (the header or the weights changed after it was written)');
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(bytes.toString('utf8', start, start + n)) as Record<string, unknown>;
  } catch {
    throw bad('header is not JSON');
  }
  const binary = new Uint8Array(bytes.buffer, bytes.byteOffset + start + n, bytes.length - start - n);
  if (header.binaryBytes !== binary.length) throw bad(`payload has ${binary.length} bytes, header says ${String(header.binaryBytes)}`);
  if (header.binarySha256 !== createHash('sha256').update(binary).digest('hex')) throw bad('payload checksum mismatch');
  return { header, binary: Uint8Array.from(binary) };
}

/** Pack named float32 arrays (in the given group order) into one payload. */
export function packWeights(groups: Record<string, NamedWeights>): { entries: Record<string, WeightEntry[]>; binary: Uint8Array } {
  let total = 0;
  for (const g of Object.values(groups)) for (const w of g.values()) total += w.data.length;
  const floats = new Float32Array(total);
  const entries: Record<string, WeightEntry[]> = {};
  let at = 0;
  for (const [group, weights] of Object.entries(groups)) {
    entries[group] = [];
    for (const [name, w] of weights) {
      const size = w.shape.reduce((a, b) => a * b, 1);
      if (size !== w.data.length) throw new SigvwapError('ERR_SHAPE', `weight ${group}/${name}: shape [${w.shape}] holds ${size} values, data has ${w.data.length}`, { weight: name });
      floats.set(w.data, at);
      entries[group]!.push({ name, shape: [...w.shape], offset: at * 4, length: w.data.length });
      at += w.data.length;
    }
  }
  // Float32Array is little-endian on every platform Node supports; copy into bytes.
  return { entries, binary: new Uint8Array(floats.buffer) };
}

/** Unpack one group of weights. */
export function unpackWeights(binary: Uint8Array, entries: readonly WeightEntry[], path = 'checkpoint'): NamedWeights {
  const out: NamedWeights = new Map();
  for (const e of entries) {
    if (e.offset % 4 !== 0 || e.offset + e.length * 4 > binary.length) {
      throw new SigvwapError('ERR_CHECKPOINT', `${path}: weight ${e.name} lies outside the payload`, { file: path, weight: e.name });
    }
    const data = new Float32Array(e.length);
    new Uint8Array(data.buffer).set(binary.subarray(e.offset, e.offset + e.length * 4));
    out.set(e.name, { shape: [...e.shape], data });
  }
  return out;
}

/**
 * A tfjs IOHandler that saves model artifacts (topology + weights) into one container file,
 * atomically, and loads them back: `model.save(fileIOHandler(path))`,
 * `tf.loadLayersModel(fileIOHandler(path))`.
 */
export function fileIOHandler(path: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const { weightData: _drop, ...rest } = artifacts;
      writeContainer(path, { format: 'tfjs-artifacts', artifacts: rest }, new Uint8Array(data));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const { header, binary } = readContainer(path);
      if (header.format !== 'tfjs-artifacts') {
        throw new SigvwapError('ERR_CHECKPOINT', `${path} holds ${String(header.format)}, not tfjs model artifacts`, { file: path });
      }
      const weightData = binary.buffer.slice(binary.byteOffset, binary.byteOffset + binary.length) as ArrayBuffer;
      return { ...(header.artifacts as tf.io.ModelArtifacts), weightData };
    },
  };
}
