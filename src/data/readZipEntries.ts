/**
 * Entries of a `.zip` archive as bytes (fflate), with a diagnosis when the archive
 * is truncated: the central directory sits at the end of a zip, so a cut archive
 * cannot be listed; we then walk the local file headers from the start and inflate
 * as much of the damaged entry as is present, to name the entry and the first line
 * that is missing. Cost: one inflate of each entry.
 */
import { Inflate, unzipSync } from 'fflate';
import { SigvwapError } from '../errors.js';

export interface ZipEntry {
  name: string;
  bytes: Uint8Array;
}

/** Entries whose name passes `keep`, in archive order; ERR_CSV naming the archive (and entry and line) when damaged. */
export function readZipEntries(archive: Uint8Array, file: string, keep: (name: string) => boolean): ZipEntry[] {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(archive, { filter: (f) => keep(f.name) });
  } catch (err) {
    throw diagnoseDamagedZip(archive, file, keep, err);
  }
  return Object.entries(entries).map(([name, bytes]) => ({ name, bytes }));
}

function countLines(bytes: Uint8Array): number {
  let lines = 0;
  for (let p = bytes.indexOf(10); p >= 0; p = bytes.indexOf(10, p + 1)) lines++;
  return lines;
}

function diagnoseDamagedZip(archive: Uint8Array, file: string, keep: (name: string) => boolean, cause: unknown): SigvwapError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const view = new DataView(archive.buffer, archive.byteOffset, archive.byteLength);
  let at = 0;
  while (at + 30 <= archive.length && view.getUint32(at, true) === 0x04034b50) {
    const flags = view.getUint16(at + 6, true);
    const method = view.getUint16(at + 8, true);
    const compressedSize = view.getUint32(at + 18, true);
    const nameLength = view.getUint16(at + 26, true);
    const extraLength = view.getUint16(at + 28, true);
    const name = Buffer.from(archive.subarray(at + 30, at + 30 + nameLength)).toString('utf8');
    const dataStart = at + 30 + nameLength + extraLength;
    const sizeKnown = (flags & 8) === 0;
    const dataEnd = sizeKnown ? dataStart + compressedSize : archive.length;
    if (dataEnd <= archive.length && sizeKnown) {
      at = dataEnd;
      continue;
    }
    // This entry runs past the end of the archive: inflate what is there.
    let partial = 0;
    if (method === 0) {
      partial = countLines(archive.subarray(dataStart));
    } else if (method === 8) {
      const inflater = new Inflate((chunk) => {
        partial += countLines(chunk);
      });
      try {
        inflater.push(archive.subarray(dataStart), false);
      } catch {
        // corrupt deflate data: report the lines recovered so far
      }
    }
    const entry = keep(name) ? name : `${name} (not a data entry)`;
    return new SigvwapError('ERR_CSV', `${file}: truncated zip archive: entry ${entry} ends after line ${partial}`, {
      file,
      entry: name,
      line: partial + 1,
      cause: reason,
    }, { cause });
  }
  return new SigvwapError('ERR_CSV', `${file}: not a readable zip archive (${reason}) at line 1`, { file, line: 1, cause: reason }, { cause });
}
