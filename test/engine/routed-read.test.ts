import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { ChronodiskError } from '../../electron/engine/errors.js';
import { FILE_HEADER_SIZE, RECORD_HEADER_SIZE, RecordType } from '../../electron/engine/format/constants.js';
import { decodeRecordHeader } from '../../electron/engine/format/segment-record.js';
import { segmentPath } from '../../electron/engine/store/segment-file.js';
import { makeData, prng } from '../helpers/history.js';

/**
 * Time-image reads of whole and partly overwritten records, raw and compressed, as an
 * export asks for them (aligned 256 KiB reads into one reused buffer): the record reader
 * reads raw payloads straight into the caller's buffer and verifies them there, and falls
 * back for compressed ones. Every read equals the shadow copy; a flipped byte in a raw
 * payload read that way is a 'damaged' error, never wrong bytes.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const root = mkdtempSync(join(tmpdir(), 'chronodisk-routed-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function build(dir: string, size: number): Promise<{ shadow: Buffer; seq: number; baseSeq: number }> {
  await Appliance.init(dir);
  const app = await Appliance.open(dir, { writable: true });
  try {
    const disk = app.addDisk({ name: 'd', source: '/dev/null', size, mode: 'scan', blockSize: 64 * KiB, identity: {} });
    const rand = prng(0x5eed);
    const shadow = Buffer.alloc(size);
    let b = app.beginBatch(disk);
    for (let at = 0; at < size; at += 256 * KiB) {
      const data = makeData(rand, 256 * KiB); // random, text (compressed) or zeros
      b.write(at, data);
      data.copy(shadow, at);
    }
    const baseSeq = (await b.commit()).seq;
    let seq = 0;
    for (let round = 0; round < 4; round++) {
      b = app.beginBatch(disk);
      for (let k = 0; k < 60; k++) {
        const len = (1 + Math.floor(rand() * 24)) * 4 * KiB;
        const off = Math.floor(rand() * ((size - len) / 512)) * 512;
        const data = makeData(rand, len);
        b.write(off, data);
        data.copy(shadow, off);
      }
      seq = (await b.commit()).seq;
    }
    return { shadow, seq, baseSeq };
  } finally {
    app.close();
  }
}

function readAll(app: Appliance, seq: number, size: number, step: number): Buffer {
  const image = app.image(app.disk('d'), seq);
  const out = Buffer.alloc(size);
  const buffer = Buffer.alloc(step);
  for (let at = 0; at < size; at += step) {
    const into = buffer.subarray(0, Math.min(step, size - at));
    into.fill(0xa5); // stale bytes must not survive a read
    image.readInto(into, at);
    into.copy(out, at);
  }
  return out;
}

describe('reading records straight into the caller’s buffer', () => {
  const size = 8 * MiB;

  it('reads every byte right, raw and compressed, whole and partly overwritten, at 256 KiB and 12 KiB steps', async () => {
    const dir = join(root, 'a');
    const { shadow, seq } = await build(dir, size);
    const app = await Appliance.open(dir);
    try {
      expect(readAll(app, seq, size, 256 * KiB).equals(shadow)).toBe(true);
      expect(readAll(app, seq, size, 12 * KiB).equals(shadow)).toBe(true);
    } finally {
      app.close();
    }
  });

  it('fails with damaged, never wrong bytes, when a raw payload read in place is flipped', async () => {
    const dir = join(root, 'b');
    const { baseSeq } = await build(dir, size);
    // The first raw write record of the first segment: flip a byte in the middle of its
    // payload, which the first point reads whole.
    const path = segmentPath(dir, 1);
    const fd = openSync(path, 'r+');
    let flipped = -1;
    try {
      const head = Buffer.alloc(RECORD_HEADER_SIZE);
      for (let at = FILE_HEADER_SIZE; flipped < 0; ) {
        if (readSync(fd, head, 0, RECORD_HEADER_SIZE, at) < RECORD_HEADER_SIZE) break;
        const h = decodeRecordHeader(head);
        if (typeof h === 'string') break;
        if (h.type === RecordType.Write && h.flags === 0 && h.storedLength === 64 * KiB) {
          flipped = at + RECORD_HEADER_SIZE + 30_000;
          const byte = Buffer.alloc(1);
          readSync(fd, byte, 0, 1, flipped);
          byte[0] ^= 0x10;
          writeSync(fd, byte, 0, 1, flipped);
        }
        at += RECORD_HEADER_SIZE + h.storedLength;
      }
    } finally {
      closeSync(fd);
    }
    expect(flipped).toBeGreaterThan(0);
    const app = await Appliance.open(dir);
    try {
      const error = (() => {
        try {
          readAll(app, baseSeq, size, 256 * KiB);
          return undefined;
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ChronodiskError);
      expect((error as ChronodiskError).code).toBe('damaged');
    } finally {
      app.close();
    }
  });
});
