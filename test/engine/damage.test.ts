import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, openSync, closeSync, readSync, writeSync, writeFileSync, fstatSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { checkAppliance, type CheckReport } from '../../electron/engine/check.js';
import { ChronodiskError } from '../../electron/engine/errors.js';
import { CATALOG_RECORD_HEADER_SIZE, CATALOG_RECORD_TRAILER_SIZE, FILE_HEADER_SIZE, RECORD_HEADER_SIZE, RecordFlag, RecordType } from '../../electron/engine/format/constants.js';
import { decodeRecordHeader } from '../../electron/engine/format/segment-record.js';
import { segmentPath } from '../../electron/engine/store/segment-file.js';
import { runCli } from '../helpers/cli.js';
import { prng } from '../helpers/history.js';

/**
 * Flipping any byte of a sealed segment or of the catalog is found by check --read-data,
 * and a read that needs the damaged bytes fails with a 'damaged' error naming the segment —
 * it never returns wrong bytes. Each flip is made on a fresh copy of a small appliance whose
 * every point's image is known.
 */

const KiB = 1024;
const root = mkdtempSync(join(tmpdir(), 'chronodisk-damage-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const base = join(root, 'base');

type Kind =
  | 'segment-header'
  | 'write-header'
  | 'write-payload'
  | 'commit-header'
  | 'commit-payload'
  | 'seal-record'
  | 'catalog-header'
  | 'catalog-record-header'
  | 'catalog-payload'
  | 'catalog-trailer';

interface Region {
  kind: Kind;
  /** The segment id, or 'catalog'. */
  file: number | 'catalog';
  start: number;
  end: number;
  /** For write records: the disk and seq of the write, and whether it is a zero record (read without I/O). */
  write?: { disk: number; seq: number; recOffset: number; zero: boolean };
}

/** Expected image of each disk at each of its points. */
const expected = new Map<string, Map<number, Buffer>>();
const regions: Region[] = [];
const diskIds = new Map<number, string>();

function random(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

beforeAll(async () => {
  await Appliance.init(base);
  // Small segments: the history spans several sealed ones.
  const app = await Appliance.open(base, { writable: true, segmentTargetSize: 12 * KiB });
  const rand = prng(42);
  for (const [name, size] of [
    ['d0', 128 * KiB],
    ['d1', 64 * KiB],
  ] as const) {
    const d = app.addDisk({ name, source: '/dev/null', size, mode: 'scan', blockSize: 4096, identity: {} });
    diskIds.set(d.id, name);
    expected.set(name, new Map());
  }
  const shadows = new Map(app.disks().map((d) => [d.name, Buffer.alloc(d.size)]));
  for (let i = 0; i < 24; i++) {
    const d = app.disks()[i % 3 === 2 ? 1 : 0]!;
    const shadow = shadows.get(d.name)!;
    // Writes of one batch never overlap, so each is visible at its own point.
    const slots = new Set<number>();
    const n = 1 + Math.floor(rand() * 3);
    while (slots.size < n) slots.add(Math.floor(rand() * (d.size / (8 * KiB))));
    const b = app.beginBatch(d);
    for (const slot of slots) {
      const offset = slot * 8 * KiB + Math.floor(rand() * 1024);
      const length = 1 + Math.floor(rand() * 6 * KiB);
      const kind = rand();
      if (kind < 0.15) {
        b.writeZeroes(offset, length);
        shadow.fill(0, offset, offset + length);
      } else {
        const data = kind < 0.6 ? random(rand, length) : Buffer.from('damage test text '.repeat(Math.ceil(length / 17)).slice(0, length));
        b.write(offset, data);
        data.copy(shadow, offset);
      }
    }
    const p = await b.commit(i % 4 === 0 ? { label: `batch ${i}` } : {});
    expected.get(d.name)!.set(p.seq, Buffer.from(shadow));
    if (i === 5) app.addBookmark(d, p, 'a bookmark');
  }
  const segments = app.catalog.state.liveSegments();
  app.close();
  expect(segments.filter((s) => s.state === 'sealed').length).toBeGreaterThanOrEqual(3);

  // Map every byte of the sealed segments and of the catalog to what it belongs to.
  for (const s of segments.filter((x) => x.state === 'sealed')) {
    const bytes = readWhole(segmentPath(base, s.id));
    regions.push({ kind: 'segment-header', file: s.id, start: 0, end: FILE_HEADER_SIZE });
    for (let at = FILE_HEADER_SIZE; at < bytes.length; ) {
      const h = decodeRecordHeader(bytes.subarray(at, at + RECORD_HEADER_SIZE));
      if (typeof h === 'string') throw new Error(`segment ${s.id} at ${at}: ${h}`);
      const end = at + RECORD_HEADER_SIZE + h.storedLength;
      if (h.type === RecordType.Seal) regions.push({ kind: 'seal-record', file: s.id, start: at, end });
      else {
        const write = h.type === RecordType.Write ? { disk: h.diskId, seq: h.seq, recOffset: at, zero: (h.flags & RecordFlag.Zero) !== 0 } : undefined;
        const name = h.type === RecordType.Write ? 'write' : 'commit';
        regions.push({ kind: `${name}-header`, file: s.id, start: at, end: at + RECORD_HEADER_SIZE, write });
        if (h.storedLength) regions.push({ kind: `${name}-payload`, file: s.id, start: at + RECORD_HEADER_SIZE, end, write });
      }
      at = end;
    }
  }
  const cat = readWhole(join(base, 'catalog'));
  regions.push({ kind: 'catalog-header', file: 'catalog', start: 0, end: FILE_HEADER_SIZE });
  for (let at = FILE_HEADER_SIZE; at < cat.length; ) {
    const len = cat.readUInt32LE(at + 8);
    const payloadEnd = at + CATALOG_RECORD_HEADER_SIZE + len;
    regions.push({ kind: 'catalog-record-header', file: 'catalog', start: at, end: at + CATALOG_RECORD_HEADER_SIZE });
    regions.push({ kind: 'catalog-payload', file: 'catalog', start: at + CATALOG_RECORD_HEADER_SIZE, end: payloadEnd });
    regions.push({ kind: 'catalog-trailer', file: 'catalog', start: payloadEnd, end: payloadEnd + CATALOG_RECORD_TRAILER_SIZE });
    at = payloadEnd + CATALOG_RECORD_TRAILER_SIZE;
  }
});

function readWhole(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(fstatSync(fd).size);
    readSync(fd, b, 0, b.length, 0);
    return b;
  } finally {
    closeSync(fd);
  }
}

function filePath(dir: string, file: number | 'catalog'): string {
  return file === 'catalog' ? join(dir, 'catalog') : segmentPath(dir, file);
}

let copies = 0;
/** A fresh copy of the base appliance with one byte XORed by `mask`. */
function damagedCopy(file: number | 'catalog', at: number, mask: number): string {
  const dir = join(root, `copy-${copies++}`);
  cpSync(base, dir, { recursive: true });
  const fd = openSync(filePath(dir, file), 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0]! ^= mask;
    writeSync(fd, b, 0, 1, at);
  } finally {
    closeSync(fd);
  }
  return dir;
}

/** Opens and checks a damaged copy the way `check --read-data` does; a refusal to open counts as found. */
async function check(dir: string): Promise<{ report?: CheckReport; openError?: ChronodiskError }> {
  let app: Appliance;
  try {
    app = await Appliance.open(dir);
  } catch (e) {
    if (e instanceof ChronodiskError) return { openError: e };
    throw e;
  }
  try {
    return { report: checkAppliance(app, { readData: true }) };
  } finally {
    app.close();
  }
}

/**
 * Reads every point of every disk in 8 KiB pieces: each piece is exactly the expected bytes
 * or a 'damaged' error naming `segment` (any clear ChronodiskError for catalog damage).
 * Returns how many pieces failed.
 */
async function readAll(dir: string, region: Region): Promise<number> {
  let app: Appliance;
  try {
    app = await Appliance.open(dir);
  } catch (e) {
    expect(e, `open after damage at ${region.kind}`).toBeInstanceOf(ChronodiskError);
    return 1;
  }
  let failed = 0;
  try {
    for (const [name, points] of expected) {
      let disk;
      try {
        disk = app.disk(name);
      } catch (e) {
        expect(region.file, `disk ${name} lost: ${String(e)}`).toBe('catalog');
        expect(e).toBeInstanceOf(ChronodiskError);
        failed++;
        continue;
      }
      for (const [seq, image] of points) {
        const img = app.image(disk, seq);
        for (let at = 0; at < img.size; at += 8 * KiB) {
          let got: Buffer;
          try {
            got = img.readSync(at, 8 * KiB);
          } catch (e) {
            const what = `read of ${name} at point ${seq}, byte ${at}, after damage to ${region.kind} of ${region.file}: ${String(e)}`;
            expect(e, what).toBeInstanceOf(ChronodiskError);
            if (region.file !== 'catalog') {
              expect((e as ChronodiskError).code, what).toBe('damaged');
              expect((e as ChronodiskError).message, what).toContain(`segment ${region.file} `);
              // What to do is named apart from the message: the CLI says the command, the window offers a button.
              expect((e as ChronodiskError).remedy, what).toBe('verify');
            }
            failed++;
            continue;
          }
          expect(got.equals(image.subarray(at, at + 8 * KiB)), `${name} at point ${seq}, byte ${at}: wrong bytes after damage to ${region.kind} of ${region.file}`).toBe(true);
        }
      }
    }
  } finally {
    app.close();
  }
  return failed;
}

/** Every damaged position must be found by check and never read back as wrong bytes. */
async function flipAndVerify(region: Region, at: number, mask: number): Promise<void> {
  const dir = damagedCopy(region.file, at, mask);
  try {
    const ctx = `byte ${at} of ${region.file === 'catalog' ? 'the catalog' : `segment ${region.file}`} (${region.kind}) ^ 0x${mask.toString(16)}`;
    const { report, openError } = await check(dir);
    if (openError) {
      // Only the catalog's own header stops an open; the error names the catalog.
      expect(openError.code, ctx).toBe('damaged');
      expect(openError.message, ctx).toContain('catalog');
    } else {
      expect(report!.ok, `${ctx}: check found nothing (notes: ${report!.notes.join('; ')})`).toBe(false);
      const here = report!.problems.filter((p) => p.where === region.file);
      expect(here.length, `${ctx}: problems ${JSON.stringify(report!.problems)}`).toBeGreaterThan(0);
      if (region.write) {
        // The write's disk is named among the affected points, from that write on or earlier.
        const disk = diskIds.get(region.write.disk)!;
        const named = here.flatMap((p) => p.affects).filter((a) => a.disk === disk && a.fromSeq <= region.write!.seq);
        expect(named.length, `${ctx}: affected points ${JSON.stringify(here)}`).toBeGreaterThan(0);
      }
    }
    const failed = await readAll(dir, region);
    // A damaged write record is needed by the point that committed it: that read must fail
    // (zero records excepted: the index alone says "zeros here", so reads never touch them).
    if (region.write && !region.write.zero) expect(failed, `${ctx}: no read failed`).toBeGreaterThan(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('damage: one flipped byte', () => {
  it('is found by check and never read back as wrong bytes, at 200 random positions of every kind', async () => {
    const rand = prng(7);
    const kinds = [...new Set(regions.map((r) => r.kind))];
    expect(kinds.sort()).toEqual(
      ['catalog-header', 'catalog-payload', 'catalog-record-header', 'catalog-trailer', 'commit-header', 'commit-payload', 'segment-header', 'seal-record', 'write-header', 'write-payload'].sort(),
    );
    const picks: Array<{ region: Region; at: number }> = [];
    // 10 positions in each kind of region, then 100 anywhere (weighted by size).
    for (const kind of kinds) {
      const of = regions.filter((r) => r.kind === kind);
      for (let i = 0; i < 10; i++) {
        const r = of[Math.floor(rand() * of.length)]!;
        picks.push({ region: r, at: r.start + Math.floor(rand() * (r.end - r.start)) });
      }
    }
    const total = regions.reduce((n, r) => n + (r.end - r.start), 0);
    for (let i = 0; i < 100; i++) {
      let x = Math.floor(rand() * total);
      const r = regions.find((g) => (x -= g.end - g.start) < 0)!;
      picks.push({ region: r, at: r.end + x });
    }
    for (const p of picks) await flipAndVerify(p.region, p.at, 1 + Math.floor(rand() * 255));
  });

  it('is found in every byte of a write record header', async () => {
    const headers = regions.filter((r) => r.kind === 'write-header');
    const r = headers[Math.floor(headers.length / 2)]!;
    for (let at = r.start; at < r.end; at++) await flipAndVerify(r, at, 0x01 << (at % 8));
  });

  it('is found in every byte of a catalog record header, in the middle and at the end', async () => {
    const headers = regions.filter((r) => r.kind === 'catalog-record-header');
    for (const r of [headers[2]!, headers[headers.length - 1]!]) {
      for (let at = r.start; at < r.end; at++) await flipAndVerify(r, at, 0x80 >> (at % 8));
    }
  });

  it('leaves a torn catalog tail (a crash mid-append) a note, cut by the next writer', async () => {
    const dir = join(root, 'torn');
    cpSync(base, dir, { recursive: true });
    const last = regions.filter((r) => r.kind === 'catalog-record-header').at(-1)!;
    const catalog = readWhole(join(dir, 'catalog'));
    // The start of one more record, cut short: what a crash during an append leaves.
    const fd = openSync(join(dir, 'catalog'), 'a');
    writeSync(fd, catalog.subarray(last.start, last.start + CATALOG_RECORD_HEADER_SIZE + 5));
    closeSync(fd);
    const { report } = await check(dir);
    expect(report!.problems).toEqual([]);
    expect(report!.notes.join('\n')).toMatch(/torn tail of 37 bytes/);
    (await Appliance.open(dir, { writable: true })).close();
    expect(readWhole(join(dir, 'catalog')).equals(catalog)).toBe(true);
    expect(await readAll(dir, { kind: 'catalog-payload', file: 'catalog', start: 0, end: 0 })).toBe(0);
  });

  it('names a torn tail beside a running writer as its writes in flight, and after a stale writer.json as a crash', async () => {
    const dir = join(root, 'torn-live');
    cpSync(base, dir, { recursive: true });
    const writer = await Appliance.open(dir, { writable: true, command: 'damage.test writer' });
    try {
      const last = regions.filter((r) => r.kind === 'catalog-record-header').at(-1)!;
      const catalog = readWhole(join(dir, 'catalog'));
      // What a reader sees while the writer is halfway through an append.
      const fd = openSync(join(dir, 'catalog'), 'a');
      writeSync(fd, catalog.subarray(last.start, last.start + CATALOG_RECORD_HEADER_SIZE + 5));
      closeSync(fd);
      const r = runCli(['check', '-a', dir]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^note: the catalog has a torn tail of 37 bytes at byte ${catalog.length} \\(being written by damage\\.test writer, pid ${process.pid}: checked up to there\\)$`, 'm'));
    } finally {
      writer.close();
    }
    // A writer.json a crash left behind, whose pid went to a process started after that
    // lock was taken (this one, an hour later): not a running writer, so a crash.
    writeFileSync(join(dir, 'writer.json'), JSON.stringify({ pid: process.pid, host: hostname(), command: 'gone', sinceUs: (Date.now() - 3_600_000) * 1000 }));
    const r = runCli(['check', '-a', dir]);
    expect(r.stdout).toMatch(/^note: the catalog has a torn tail of 37 bytes at byte \d+ \(a crash; the writer cuts it at its next start\)$/m);
  });

  it('is reported by the check command with the segment and the points it affects', () => {
    const write = regions.find((r) => r.kind === 'write-payload' && r.end - r.start > 100)!;
    let dir = damagedCopy(write.file, write.start + 50, 0x40);
    let r = runCli(['check', '-a', dir, '--read-data']);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`damaged: segment ${write.file} at byte ${write.write!.recOffset}: .*affects ${diskIds.get(write.write!.disk)} from seq \\d+ \\(\\d+ later points\\)`));
    expect(r.stderr).toMatch(/^chronodisk: the appliance has 1 damaged place \(listed above\)/);
    // A read that needs the damaged record names it, and the command that finds the rest.
    const [, disk, seq] = /affects (\S+) from seq (\d+)/.exec(r.stdout)!;
    const point = [...expected.get(disk!)!.keys()].sort((a, b) => a - b).find((p) => p >= Number(seq))!;
    r = runCli(['image', disk!, '-a', dir, '--at', String(point), '--out', join(dir, 'out.raw')]);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^chronodisk: segment ${write.file} at byte ${write.write!.recOffset} is damaged \\(checksum mismatch\\); run chronodisk check --read-data\n$`));

    const catRecord = regions.filter((x) => x.kind === 'catalog-payload')[2]!;
    dir = damagedCopy('catalog', catRecord.start, 0x10);
    r = runCli(['check', '-a', dir, '--read-data']);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/damaged: catalog at byte \d+/);
  });
});
