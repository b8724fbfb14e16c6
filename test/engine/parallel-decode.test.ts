import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { RECORD_HEADER_SIZE, RecordFlag, RecordType } from '../../electron/engine/format/constants.js';
import { PayloadCodec } from '../../electron/engine/format/payload-codec.js';
import { decodeRecordHeader, stampChecksum } from '../../electron/engine/format/segment-record.js';
import { encodeRecord } from '../../electron/engine/store/record-encoder.js';
import { DecodePool, type DecodeJob } from '../../electron/engine/store/decode-pool.js';
import { segmentPath } from '../../electron/engine/store/segment-file.js';
import { repoRoot, runCli } from '../helpers/cli.js';
import { makeData, prng, sha256 } from '../helpers/history.js';

/**
 * Large reads decode records on two threads (DecodePool). The worker runs only from the
 * build (it is a separate script), so these tests use dist/: the pool directly, and the
 * built CLI exporting an image (which decodes on two threads wherever there are two cores).
 */
const MiB = 1024 * 1024;
const builtWorker = new URL('dist/electron/engine/store/decode-worker.js', `file://${repoRoot}`);
const root = mkdtempSync(join(tmpdir(), 'chronodisk-decode-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Text-like bytes (zstd shrinks them) that differ from record to record. */
function textLike(rand: () => number, length: number): Buffer {
  const words = ['alpha ', 'beta ', 'gamma ', 'delta\n', '1234 ', 'epsilon '];
  const b = Buffer.alloc(length);
  for (let at = 0; at < length; ) at += b.write(words[Math.floor(rand() * words.length)]!, at);
  return b;
}

describe('DecodePool', () => {
  it('decodes batches of records on both threads, byte for byte, and hands a record it cannot decode back', () => {
    const key = Buffer.alloc(32, 9);
    const codec = new PayloadCodec(key);
    const rand = prng(3);
    const n = 64;
    const input = new SharedArrayBuffer(n * (70 * 1024));
    const shared = Buffer.from(input);
    const logical: Buffer[] = [];
    const jobs: DecodeJob[] = [];
    let at = 0;
    for (let i = 0; i < n; i++) {
      // Every record must carry a payload to decrypt: an all-zero block would be a zero record.
      const drawn = i % 3 === 0 ? makeData(rand, 64 * 1024) : undefined;
      const data = drawn && drawn.some((b) => b !== 0) ? drawn : textLike(rand, 64 * 1024);
      const { bytes, flags } = encodeRecord(codec, { type: RecordType.Write, diskId: 1, seq: i + 1, timeUs: 1, a: 0, b: data.length, c: 0 }, data, true);
      expect(flags & RecordFlag.Encrypted).toBeTruthy();
      bytes.copy(shared, at);
      logical.push(data);
      jobs.push({ stored: shared.subarray(at + RECORD_HEADER_SIZE, at + bytes.length), aad: shared.subarray(at, at + 56), flags, logical: data.length, into: Buffer.alloc(0) });
      at += bytes.length;
    }
    const pool = DecodePool.start(key, builtWorker);
    expect(pool, `the built worker ${builtWorker.pathname} (run npm run build)`).toBeDefined();
    try {
      // The worker starts in the background: batches until it has taken part in one.
      let workerTook = 0;
      for (let round = 0; round < 200 && workerTook === 0; round++) {
        for (const j of jobs) j.into = Buffer.alloc(j.logical, 0xaa);
        let here = 0;
        pool!.run(input, jobs, (j) => {
          here++;
          codec.unpack(j.stored, j.flags, j.logical, j.aad, () => 'job', j.into);
        });
        jobs.forEach((j, i) => expect(j.into.equals(logical[i]!), `record ${i}, round ${round}`).toBe(true));
        workerTook = n - here;
      }
      expect(workerTook, 'the worker never took a job').toBeGreaterThan(0);

      // A payload the GCM tag does not vouch for: whichever thread takes it, the caller's
      // decoder sees it and its error comes out.
      shared[jobs[40]!.stored.byteOffset + 20]! ^= 0x01;
      for (let round = 0; round < 5; round++) {
        const failedHere: number[] = [];
        expect(() =>
          pool!.run(input, jobs, (j) => {
            try {
              codec.unpack(j.stored, j.flags, j.logical, j.aad, () => `job ${jobs.indexOf(j)}`, j.into);
            } catch (e) {
              failedHere.push(jobs.indexOf(j));
              throw e;
            }
          }),
        ).toThrow(/job 40: authentication failed/);
        expect(failedHere).toEqual([40]);
        expect(pool!.usable, 'the pool waited for jobs nobody was doing').toBe(true);
      }
    } finally {
      pool?.close();
    }
  });
});

describe('an image export through the built CLI', () => {
  const passphrase = 'parallel decode test';
  const dir = join(root, 'appliance');
  const size = 24 * MiB;
  let expected = '';

  it('writes the exact image, and stops with a damaged error on a record only the GCM tag catches', async () => {
    await Appliance.init(dir, { passphrase });
    const app = await Appliance.open(dir, { writable: true, passphrase });
    const rand = prng(11);
    const disk = Buffer.alloc(size);
    try {
      const d = app.addDisk({ name: 'd', source: '/dev/null', size, mode: 'scan', blockSize: 65536, identity: {} });
      for (let at = 0; at < size; ) {
        const b = app.beginBatch(d);
        for (const end = at + 4 * MiB; at < end; at += MiB) {
          const data = textLike(rand, MiB);
          data.copy(disk, at);
          b.write(at, data);
        }
        await b.commit();
      }
    } finally {
      app.close();
    }
    expected = sha256(disk);
    const env = { CHRONODISK_PASSPHRASE: passphrase };
    const out = join(root, 'out.img');
    const ok = runCli(['image', '-a', dir, 'd', '--at', 'now', '--out', out], { env });
    expect(ok.status, ok.stderr).toBe(0);
    expect(sha256(readFileSync(out))).toBe(expected);

    // Flip a payload byte of a write record in the middle and fix its xxh64, as a forger
    // would: only the authentication tag, checked by whichever thread decodes it, can tell.
    const seg = segmentPath(dir, 1);
    const bytes = readFileSync(seg);
    let at = 64;
    let writes = 0;
    let victim = -1;
    while (at < bytes.length) {
      const h = decodeRecordHeader(bytes.subarray(at, at + RECORD_HEADER_SIZE));
      if (typeof h === 'string') throw new Error(h);
      if (h.type === RecordType.Write && ++writes === 200) victim = at;
      at += RECORD_HEADER_SIZE + h.storedLength;
    }
    expect(victim).toBeGreaterThan(0);
    const header = Buffer.from(bytes.subarray(victim, victim + RECORD_HEADER_SIZE));
    const payload = Buffer.from(bytes.subarray(victim + RECORD_HEADER_SIZE, victim + RECORD_HEADER_SIZE + header.readUInt32LE(12)));
    payload[100]! ^= 0x40;
    stampChecksum(header, payload);
    const fd = openSync(seg, 'r+');
    try {
      writeSync(fd, header, 0, header.length, victim);
      writeSync(fd, payload, 0, payload.length, victim + RECORD_HEADER_SIZE);
      const check = Buffer.alloc(1);
      readSync(fd, check, 0, 1, victim + RECORD_HEADER_SIZE + 100);
      expect(check[0]).toBe(payload[100]);
    } finally {
      closeSync(fd);
    }
    rmSync(out, { force: true });
    const bad = runCli(['image', '-a', dir, 'd', '--at', 'now', '--out', out], { env });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`segment 1 at byte ${victim}`);
    expect(bad.stderr).toMatch(/authentication failed/);
  });
});
