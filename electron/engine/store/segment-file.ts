import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { FILE_HEADER_SIZE, RECORD_HEADER_SIZE, RecordType, SEGMENT_MAGIC, SEGMENTS_DIR, MAX_RECORD_LENGTH } from '../format/constants.js';
import { decodeFileHeader } from '../format/file-header.js';
import { decodeRecordHeader, recordChecksumOk, type RecordHeader } from '../format/segment-record.js';
import { fromFsError } from '../errors.js';

export function segmentPath(dir: string, id: number): string {
  return join(dir, SEGMENTS_DIR, `${String(id).padStart(10, '0')}.seg`);
}

/** The largest stored payload a valid record can have (64 KiB, plus encryption overhead). */
export const MAX_STORED = MAX_RECORD_LENGTH + 1024;

export interface ScannedRecord {
  offset: number;
  header: RecordHeader;
  headerBytes: Buffer;
  /** Present when scanning with payloads (check --read-data, commit labels always). */
  payload?: Buffer;
}

/** Where a scan stopped: the end, a torn tail (crash) or damage in the middle. */
export type ScanEnd =
  | { kind: 'end'; at: number }
  | { kind: 'torn'; at: number; reason: string }
  | { kind: 'damaged'; at: number; reason: string };

/**
 * Reads the records of one segment file sequentially in large chunks. Each record is
 * validated (magic, type, length, checksum when `verifyPayloads`, which also returns them).
 */
export function* scanSegment(
  fd: number,
  from: number,
  options: { verifyPayloads: boolean; sealedAt?: number },
  onEnd: (end: ScanEnd) => void,
): Generator<ScannedRecord> {
  const size = fstatSync(fd).size;
  const chunk = Buffer.allocUnsafe(8 * 1024 * 1024);
  let chunkStart = 0;
  let chunkLen = 0;
  const view = (pos: number, len: number): Buffer => {
    if (pos < chunkStart || pos + len > chunkStart + chunkLen) {
      chunkStart = pos;
      chunkLen = readSync(fd, chunk, 0, Math.min(chunk.length, size - pos), pos);
    }
    return chunk.subarray(pos - chunkStart, pos - chunkStart + len);
  };
  let pos = from;
  while (pos < size) {
    const tornOrDamaged = (reason: string): ScanEnd => {
      // A crash leaves a short record, or zeros where a record should start; anything
      // else — a full-length record that does not verify — is damage.
      if (pos + RECORD_HEADER_SIZE > size) return { kind: 'torn', at: pos, reason };
      const head = view(pos, RECORD_HEADER_SIZE);
      if (head.every((b) => b === 0)) return { kind: 'torn', at: pos, reason };
      const stored = head.readUInt32LE(12);
      if (stored <= MAX_STORED && pos + RECORD_HEADER_SIZE + stored > size) return { kind: 'torn', at: pos, reason };
      return { kind: 'damaged', at: pos, reason };
    };
    if (pos + RECORD_HEADER_SIZE > size) {
      onEnd(tornOrDamaged('truncated record header'));
      return;
    }
    const headerBytes = Buffer.from(view(pos, RECORD_HEADER_SIZE));
    const header = decodeRecordHeader(headerBytes);
    if (typeof header === 'string') {
      onEnd(tornOrDamaged(header));
      return;
    }
    if (header.storedLength > MAX_STORED) {
      onEnd({ kind: 'damaged', at: pos, reason: `record length ${header.storedLength} is impossible` });
      return;
    }
    const end = pos + RECORD_HEADER_SIZE + header.storedLength;
    if (end > size) {
      onEnd(tornOrDamaged('record runs past the end of the file'));
      return;
    }
    let payload: Buffer | undefined;
    if (options.verifyPayloads || header.type !== RecordType.Write) {
      payload = Buffer.from(view(pos + RECORD_HEADER_SIZE, header.storedLength));
      if (!recordChecksumOk(headerBytes, payload)) {
        onEnd(tornOrDamaged('record checksum mismatch'));
        return;
      }
    }
    yield { offset: pos, header, headerBytes, payload };
    pos = end;
    if (header.type === RecordType.Seal) break;
  }
  onEnd({ kind: 'end', at: pos });
}

/** Opens segment files on demand and keeps their descriptors (segments never change). */
export class SegmentFiles {
  private fds = new Map<number, number>();
  constructor(readonly dir: string) {}

  fd(id: number): number {
    let fd = this.fds.get(id);
    if (fd === undefined) {
      try {
        fd = openSync(segmentPath(this.dir, id), 'r');
      } catch (e) {
        throw fromFsError(e, `segment ${id} (${segmentPath(this.dir, id)})`);
      }
      this.fds.set(id, fd);
    }
    return fd;
  }

  /** Verifies the 64-byte header of a segment file; a reason string when it is wrong. */
  checkHeader(id: number, applianceId: Buffer): string | undefined {
    const b = Buffer.alloc(FILE_HEADER_SIZE);
    readSync(this.fd(id), b, 0, FILE_HEADER_SIZE, 0);
    const h = decodeFileHeader(b, SEGMENT_MAGIC);
    if (typeof h === 'string') return h;
    if (h.id !== id) return `header names segment ${h.id}`;
    if (!h.applianceId.equals(applianceId)) return 'it belongs to another appliance';
    return undefined;
  }

  forget(id: number): void {
    const fd = this.fds.get(id);
    if (fd !== undefined) closeSync(fd);
    this.fds.delete(id);
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}
