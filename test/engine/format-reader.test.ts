import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, repoRoot, runCliJson } from '../helpers/cli.js';
import { prng } from '../helpers/prng.js';
import { textPool } from '../helpers/text-pool.js';
import { mountTmpfs, unmount } from '../devices/loop-device.js';

/**
 * docs/FORMAT.md claims to describe the appliance bytes well enough to write a reader without
 * our code. test/fixtures/format_reader.py is such a reader, written in Python from FORMAT.md
 * alone (segments and catalog only, never the index). Here appliances are built with the real
 * CLI — two disks each, plain and encrypted, text, random bytes and zeros, labels, thinning
 * by `prune`, an uncommitted write and a torn commit at the end of the open segment — and for
 * every point the Python reader's image must equal `chronodisk image` byte for byte (sha256),
 * and its list of disks and points must equal `disks --json` and `timeline --json`.
 *
 * Needs Debian's python3 with python3-zstandard, python3-cryptography and python3-xxhash.
 * As root the plain appliance lives on a small tmpfs, so that its segments are a few MiB and
 * batches cross segment boundaries.
 */

const python = '/usr/bin/python3';
const reader = join(repoRoot, 'test/fixtures/format_reader.py');
const MiB = 1024 * 1024;

const root = mkdtempSync(join(tmpdir(), 'chronodisk-format-reader-'));
const small = process.getuid?.() === 0 ? join(root, 'small-drive') : undefined;
const plain = join(small ?? root, 'plain');
const encrypted = join(root, 'encrypted');
// NFC in the environment, NFD in the reader's key file (with a newline): FORMAT.md §3 says NFC.
const passphrase = 'Zeitreise über Brücken';
const keyFile = join(root, 'passphrase.txt');
const cryptEnv = { CHRONODISK_PASSPHRASE: passphrase };

afterAll(() => {
  if (small) unmount(small);
  rmSync(root, { recursive: true, force: true });
});

interface Point {
  disk: string;
  seq: number;
  timeUs: number;
}
interface Listing {
  disks: { name: string; id: number; size: number }[];
  points: Point[];
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Overwrites `count` random ranges of an image file with text, random bytes or zeros. */
function mutate(path: string, size: number, seed: number, count: number): void {
  const rnd = prng(seed);
  const fd = openSync(path, 'r+');
  try {
    for (let i = 0; i < count; i++) {
      const length = 1 + Math.floor(rnd() * 384 * 1024);
      const offset = Math.floor(rnd() * (size - length));
      const kind = i % 3;
      let data: Buffer;
      if (kind === 0) data = textPool(length, seed * 1000 + i);
      else if (kind === 1) {
        data = Buffer.allocUnsafe(length + 3);
        for (let j = 0; j < length; j += 4) data.writeUInt32LE((rnd() * 2 ** 32) >>> 0, j);
      } else data = Buffer.alloc(length);
      writeSync(fd, data, 0, length, offset);
    }
  } finally {
    closeSync(fd);
  }
}

function py(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 64 * MiB });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function readerArgs(app: string): string[] {
  return app === encrypted ? ['--passphrase-file', keyFile] : [];
}

function cli(app: string): { args: string[]; env: NodeJS.ProcessEnv } {
  return { args: ['-a', app], env: app === encrypted ? cryptEnv : { CHRONODISK_PASSPHRASE: undefined } };
}

function listing(app: string): Listing {
  const r = py([reader, app, '--list', ...readerArgs(app)]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Listing;
}

/** `time` of timeline --json ("…T12:05:52.041000Z") in µs, exactly. */
function isoToUs(iso: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)\.(\d{6})Z$/.exec(iso);
  if (!m) throw new Error(`unexpected time ${iso}`);
  return Date.parse(`${m[1]}Z`) * 1000 + Number(m[2]);
}

/** What the CLI says: the disks, and every point of every disk (timeline --all). */
function cliListing(app: string): Listing {
  const { args, env } = cli(app);
  const disks = runCliJson<{ name: string; id: number; size: number }[]>(['disks', ...args], { env });
  const points: Point[] = [];
  for (const d of disks) {
    const tl = runCliJson<{ points: { seq: number; time: string }[] }>(['timeline', ...args, d.name, '--all'], { env });
    for (const p of tl.points) points.push({ disk: d.name, seq: p.seq, timeUs: isoToUs(p.time) });
  }
  points.sort((a, b) => a.seq - b.seq);
  return { disks: disks.map((d) => ({ name: d.name, id: d.id, size: d.size })), points };
}

/** Runs a program without blocking, so that the CLI and the reader run side by side. */
function runAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, CHRONODISK_DEBUG: '', ...env }, maxBuffer: 64 * MiB }, (err, _stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr: String(stderr) });
    });
  });
}

/** sha256 of the image of every point, by the CLI and by the Python reader; they must agree. */
async function compareEveryPoint(app: string): Promise<Map<number, string>> {
  const mine = listing(app);
  expect(mine).toEqual(cliListing(app));
  expect(mine.points.length).toBeGreaterThan(0);
  const { args, env } = cli(app);
  const out = new Map<number, string>();
  for (const p of mine.points) {
    const ours = join(root, `cli-${p.seq}.img`);
    const theirs = join(root, `py-${p.seq}.img`);
    const [r, q] = await Promise.all([
      runAsync(process.execPath, [cliPath, 'image', ...args, p.disk, '--at', String(p.seq), '--out', ours, '--force'], env),
      runAsync(python, [reader, app, p.disk, String(p.seq), theirs, '--verify', ...readerArgs(app)]),
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(q.status, `reader at ${p.disk}@${p.seq}: ${q.stderr}`).toBe(0);
    const size = mine.disks.find((d) => d.name === p.disk)!.size;
    expect(readFileSync(theirs).length, `${p.disk}@${p.seq} size`).toBe(size);
    const sha = sha256(ours);
    expect(sha256(theirs), `${p.disk}@${p.seq}: the Python reader disagrees with chronodisk image`).toBe(sha);
    out.set(p.seq, sha);
    rmSync(ours);
    rmSync(theirs);
  }
  return out;
}

/** Counts the records of the live segments by kind (using the reader's own parser). */
function recordKinds(app: string): Record<string, number> {
  const script = `
import json, sys
sys.path.insert(0, ${JSON.stringify(join(repoRoot, 'test/fixtures'))})
import format_reader as fr
pw = None
if len(sys.argv) > 2:
    pw = open(sys.argv[2], encoding="utf-8").read().rstrip("\\n")
a = fr.Appliance(sys.argv[1], pw)
k = {"segments": len(a.live), "generation": a.generation, "uncommitted": 0, "thinned": 0, "labels": 0}
for d, ws in a.writes.items():
    kept = set(id(w) for w in a.committed.get(d, []))
    for w in ws:
        name = "zero" if w.flags & 4 else ("zstd" if w.flags & 1 else "raw")
        if w.flags & 2: name += "+enc"
        k[name] = k.get(name, 0) + 1
        if id(w) not in kept: k["uncommitted"] += 1
for cs in a.commits.values():
    for c in cs:
        if c.b & 16: k["thinned"] += 1
        if c.stored: k["labels"] += 1
print(json.dumps(k))
`;
  const r = py(['-c', script, app, ...(app === encrypted ? [keyFile] : [])]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, number>;
}

/**
 * Appends to the open segment (the highest id) a valid write record of `diskId` with the next
 * seq whose batch never commits — 64 KiB of zeros at `offset` — then the first 40 bytes of its
 * commit record, as a crash leaves them (FORMAT.md §4.2, §6: a torn tail, an uncommitted batch).
 */
function appendUncommittedAndTorn(app: string, diskId: number, offset: number, nextSeq: number, timeUs: number): void {
  const segs = readdirSync(join(app, 'segments')).filter((f) => f.endsWith('.seg')).sort();
  const script = `
import struct, sys, xxhash
path, disk, off, seq, t = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def rec(rtype, flags, payload, seq, a, b, c):
    h = struct.pack("<IBBHIIQQQIIQ", 0x31524443, rtype, flags, 0, disk, len(payload), seq, t, a, b, 0, c)
    return h + struct.pack("<Q", xxhash.xxh64(h + payload).intdigest()) + payload
with open(path, "ab") as f:
    f.write(rec(1, 4, b"", seq, off, 65536, 0))
    f.write(rec(2, 0, b"", seq + 1, seq, 0, 65536)[:40])
`;
  const r = py(['-c', script, join(app, 'segments', segs[segs.length - 1]!), String(diskId), String(offset), String(nextSeq), String(timeUs)]);
  expect(r.status, r.stderr).toBe(0);
}

function capture(app: string, disk: string, label?: string): void {
  const { args, env } = cli(app);
  runCliJson(['capture', ...args, disk, ...(label ? ['--label', label] : [])], { env });
}

const disks = [
  { name: 'alpha', size: 32 * MiB, blockSize: '64K' },
  { name: 'beta', size: 8 * MiB, blockSize: '4K' },
];

function buildAppliance(app: string, seed: number, rounds: number): void {
  const { args, env } = cli(app);
  runCliJson(['init', app, ...(app === encrypted ? ['--encrypt'] : [])], { env });
  for (const d of disks) {
    const img = join(root, `${d.name}-${seed}.img`);
    writeFileSync(img, '');
    truncateSync(img, d.size);
    runCliJson(['protect', ...args, img, '--name', d.name, '--block-size', d.blockSize], { env });
  }
  for (let round = 0; round < rounds; round++) {
    for (const [i, d] of disks.entries()) {
      // The first round writes a lot (several small-drive segments), later ones a little.
      mutate(join(root, `${d.name}-${seed}.img`), d.size, seed * 100 + round * 10 + i, round === 0 ? 24 : 6);
      capture(app, d.name, round % 2 === 1 ? `round ${round} of ${d.name} ✓` : undefined);
    }
  }
}

beforeAll(() => {
  writeFileSync(keyFile, `${passphrase.normalize('NFD')}\n`);
  if (small) mountTmpfs(small, '128m');
  buildAppliance(plain, 1, 3);
  buildAppliance(encrypted, 2, 2);
});

describe('an independent reader written from docs/FORMAT.md reads what chronodisk wrote', () => {
  it('a plain appliance: every point, then again after prune thinned it and more captures', async () => {
    const kinds = recordKinds(plain);
    expect(kinds.zero, 'zero records').toBeGreaterThan(0);
    expect(kinds.zstd, 'zstd records').toBeGreaterThan(0);
    expect(kinds.raw, 'raw records').toBeGreaterThan(0);
    expect(kinds.labels, 'labelled commits').toBeGreaterThan(0);
    if (small) expect(kinds.segments, 'segments on the small drive').toBeGreaterThan(2);
    const before = await compareEveryPoint(plain);

    // Keep one middle point of alpha with a bookmark; retention keeps bookmarks and thins the
    // rest (judged two days on, every point is older than keep-all and shares one hour).
    const { args } = cli(plain);
    const alpha = listing(plain).points.filter((p) => p.disk === 'alpha');
    const kept = alpha[1]!.seq;
    runCliJson(['mark', ...args, 'alpha', 'kept', '--at', String(kept)]);
    const later = new Date(alpha[alpha.length - 1]!.timeUs / 1000 + 2 * 86400_000).toISOString();
    const pruned = runCliJson<{ removedPoints: number }>(['prune', ...args, '--now', later, '--yes']);
    expect(pruned.removedPoints).toBeGreaterThan(0);
    const thinned = recordKinds(plain);
    expect(thinned.generation, 'a manifest generation').toBeGreaterThan(0);
    expect(thinned.thinned, 'thinned commits').toBeGreaterThan(0);

    const survivors = listing(plain).points.map((p) => p.seq);
    expect(survivors.length).toBeLessThan(before.size);
    expect(survivors).toContain(kept);

    // More history on top of the thinned segments; then the reader, following the manifest,
    // must agree with the CLI on every point, and the points that stayed keep their bytes.
    mutate(join(root, 'alpha-1.img'), disks[0]!.size, 901, 6);
    capture(plain, 'alpha', 'after the thinning');
    mutate(join(root, 'beta-1.img'), disks[1]!.size, 902, 6);
    capture(plain, 'beta');
    const after = await compareEveryPoint(plain);
    expect(after.size).toBe(survivors.length + 2);
    for (const seq of survivors) expect(after.get(seq), `point ${seq} changed in the thinning`).toBe(before.get(seq));
  });

  it('an encrypted appliance, with an uncommitted write and a torn commit at the end of the open segment', async () => {
    const kinds = recordKinds(encrypted);
    expect(kinds['zstd+enc'], 'compressed encrypted records').toBeGreaterThan(0);
    expect(kinds['raw+enc'], 'raw encrypted records').toBeGreaterThan(0);
    expect(kinds.zero, 'zero records').toBeGreaterThan(0);
    expect(kinds.labels, 'encrypted labels').toBeGreaterThan(0);

    // The crash leftovers: neither the CLI nor the reader may show them. The uncommitted record
    // zeroes a block that holds data, so a reader that applied it would show other bytes.
    const list = listing(encrypted);
    expect(list).toEqual(cliListing(encrypted));
    const last = list.points[list.points.length - 1]!;
    const alphaId = list.disks.find((d) => d.name === 'alpha')!.id;
    const alphaImage = join(root, 'alpha-2.img');
    const holdsData = (at: number) => readFileSync(alphaImage).subarray(at, at + 65536).some((b) => b !== 0);
    let victim = 0;
    while (!holdsData(victim)) victim += 65536;
    appendUncommittedAndTorn(encrypted, alphaId, victim, last.seq + 1, last.timeUs + 1);
    expect(recordKinds(encrypted).uncommitted).toBe(1);
    expect(listing(encrypted)).toEqual(list);

    // The next writer cuts the torn tail and goes on after the uncommitted record; every point,
    // the new one included (its seq is above the uncommitted record's), reads the same both ways.
    mutate(alphaImage, disks[0]!.size, 903, 6);
    capture(encrypted, 'alpha', 'after the crash');
    expect(holdsData(victim), 'the block the uncommitted record zeroes still holds data').toBe(true);
    const after = await compareEveryPoint(encrypted);
    expect(after.size).toBe(list.points.length + 1);
    expect(recordKinds(encrypted).uncommitted).toBe(1);
  });

  it('the reader refuses a wrong passphrase and a point that is not one', () => {
    const wrong = join(root, 'wrong.txt');
    writeFileSync(wrong, 'not the passphrase\n');
    const r = py([reader, encrypted, '--list', '--passphrase-file', wrong]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/wrong passphrase/);
    const alphaPoints = new Set(listing(plain).points.filter((p) => p.disk === 'alpha').map((p) => p.seq));
    let seq = Math.min(...alphaPoints) + 1;
    while (alphaPoints.has(seq)) seq++;
    const q = py([reader, plain, 'alpha', String(seq), join(root, 'none.img')]);
    expect(q.status).toBe(1);
    expect(q.stderr).toMatch(/not a committed point/);
  });
});
