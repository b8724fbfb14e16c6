/**
 * Split capture on an appliance that runs low on space, with real NBD clients (nbdcopy,
 * python3-libnbd) on a real ext4 on a loop device. Split writes never pause, so the
 * space guard runs beside them: it thins early and holds new writes while it swaps
 * segments. And when the drive is full for real, the writes fail (ENOSPC to the client)
 * without damage: every acknowledged write is in the appliance, which checks clean.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillDrive, makeImage, mountExt4, tempDir } from '../devices/loop-device.js';
import { runCli } from '../helpers/cli.js';
import { sha256 } from '../helpers/history.js';
import { jsonLines, startCliServer } from './cli-server.js';
import { run } from './fixtures.js';

const MiB = 1024 * 1024;

function startSplit(app: string, disk: string, socket: string) {
  return startCliServer(['split', '-a', app, disk, '--socket', socket], (o) => {
    const first = o.includes('\n') ? jsonLines(o)[0] : undefined;
    return first?.event === 'listening' ? (first as { uri: string }) : undefined;
  });
}

function statusLines(stdout: string): Array<{ state: string; message: string }> {
  return jsonLines(stdout).filter((l) => l.event === 'status') as unknown as Array<{ state: string; message: string }>;
}

/** The disk at its latest point, as `chronodisk image` writes it. */
function latestImage(app: string, disk: string, out: string): Buffer {
  const r = runCli(['image', disk, '-a', app, '--at', 'now', '--out', out, '--force']);
  if (r.status !== 0) throw new Error(`image ${disk}: ${r.stderr}`);
  return readFileSync(out);
}

/**
 * A split disk `name` of `sourceMiB` on an appliance alone on a fresh `fsMiB` ext4, with
 * retention's floor at `minFree`; set up before the describe's tests, removed after.
 */
function splitOnSmallDrive(prefix: string, fsMiB: number, sourceMiB: number, name: string, minFree: string) {
  const tmp = tempDir(prefix);
  const fsDir = join(tmp.dir, 'appfs');
  const setup = { tmp, fsDir, app: join(fsDir, 'appliance'), source: join(tmp.dir, 'source.img'), size: sourceMiB * MiB };
  let appfs: ReturnType<typeof mountExt4> | undefined;
  beforeAll(() => {
    appfs = mountExt4(tmp.dir, fsDir, fsMiB);
    makeImage(setup.source, setup.size);
    expect(runCli(['init', setup.app]).status).toBe(0);
    expect(runCli(['protect', setup.source, '-a', setup.app, '--mode', 'split', '--name', name]).status).toBe(0);
    expect(runCli(['retention', name, '-a', setup.app, '--min-free', minFree]).status).toBe(0);
  });
  afterAll(() => {
    appfs?.remove();
    tmp.remove();
  });
  return setup;
}

describe('split capture on an appliance that runs low on space', () => {
  const { tmp, app, source } = splitOnSmallDrive('chronodisk-split-space-', 128, 16, 's', '24M');

  it('thins early while the writes go on: 14 rewrites of the whole disk all land, in 128 MiB', async () => {
    const split = await startSplit(app, 's', join(tmp.dir, 's.sock'));
    const data = join(tmp.dir, 'data.bin');
    try {
      // 14 × 16 MiB of fresh random data: more than the filesystem holds twice over.
      for (let pass = 0; pass < 14; pass++) {
        writeFileSync(data, randomBytes(16 * MiB));
        const r = await run('nbdcopy', [data, split.info.uri], { timeoutMs: 120_000 });
        expect(r.code, `pass ${pass}: ${r.stderr}`).toBe(0);
      }
    } finally {
      await split.stopCleanly();
    }
    const thinned = statusLines(split.stdout()).filter((s) => s.state === 'thinned');
    expect(thinned.length, split.stdout().slice(-2000)).toBeGreaterThan(0);
    expect(thinned[0]!.message).toMatch(/^the appliance was low on space: thinned \d+ old points? early$/);
    expect(statusLines(split.stdout()).some((s) => s.state === 'full')).toBe(false);

    expect(runCli(['check', '-a', app, '--read-data']).status).toBe(0);
    const last = sha256(readFileSync(data));
    expect(sha256(readFileSync(source))).toBe(last);
    expect(sha256(latestImage(app, 's', join(tmp.dir, 'now.img')))).toBe(last);
  }, 300_000);
});

describe('split writes onto a full appliance', () => {
  const { tmp, fsDir, app, source, size } = splitOnSmallDrive('chronodisk-split-full-', 64, 96, 'f', '4M');

  it('fails the writes that do not fit, keeps every acknowledged one, and checks clean', async () => {
    // The writes go through fresh blocks only, so no point can be given up to make room:
    // once the ~60 MiB filesystem is full, writes must fail.
    const loader = join(tmp.dir, 'fill.py');
    writeFileSync(
      loader,
      [
        // 16 writes in flight, so the drive fills in the middle of group commits that
        // carry several writes each: the case where a cut-back could lose a neighbour.
        'import sys, os, hashlib, nbd',
        'h = nbd.NBD(); h.connect_uri(sys.argv[1])',
        `size = ${size}; n = 256 * 1024; depth = 16`,
        'state = {"failed": 0}',
        'def issue(o):',
        '    data = os.urandom(n)',
        '    buf = nbd.Buffer.from_bytearray(bytearray(data))',
        '    digest = hashlib.sha256(data).hexdigest()',
        '    def done(err, o=o, buf=buf):',
        '        if err.value == 0:',
        '            print("A", o, digest, flush=True)',
        '        else:',
        '            state["failed"] += 1',
        '            print("E", o, os.strerror(err.value), flush=True)',
        '        return 1',
        '    h.aio_pwrite(buf, o, completion=done)',
        'off = 0',
        'while (off < size and state["failed"] < 12) or h.aio_in_flight() > 0:',
        '    while off < size and state["failed"] < 12 and h.aio_in_flight() < depth:',
        '        issue(off); off += n',
        '    h.poll(-1)',
      ].join('\n'),
    );
    const split = await startSplit(app, 'f', join(tmp.dir, 'f.sock'));
    let log = '';
    try {
      const py = spawn('/usr/bin/python3', [loader, split.info.uri], { stdio: ['ignore', 'pipe', 'inherit'] });
      py.stdout!.on('data', (c) => (log += c));
      const code = await new Promise((r) => py.once('exit', r));
      expect(code).toBe(0);
    } finally {
      await split.stopCleanly();
    }
    const lines = log.trim().split('\n').map((l) => l.split(' '));
    const acked = lines.filter((l) => l[0] === 'A').map(([, off, hash]) => ({ off: Number(off), hash: hash! }));
    const errors = lines.filter((l) => l[0] === 'E');
    expect(errors.length, log.slice(-1000)).toBeGreaterThanOrEqual(12);
    expect(errors[0]!.join(' '), split.stdout().slice(-3000) + split.stderr().slice(-3000)).toMatch(/No space left on device/i);
    // Most of the disk got in before the drive was full.
    expect(acked.length * 256 * 1024).toBeGreaterThan(24 * MiB);
    expect(statusLines(split.stdout()).some((s) => s.state === 'full' && /appliance is full .*writes fail once the appliance's drive has no room left/.test(s.message))).toBe(true);
    const free = statfsSync(fsDir);
    expect(free.bavail * free.bsize).toBeLessThan(8 * MiB);

    // No damage, though the drive filled up in the middle of group commits.
    const check = runCli(['check', '-a', app, '--read-data']);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    // Every acknowledged write is in the appliance's latest point.
    const image = latestImage(app, 'f', join(tmp.dir, 'now.img'));
    const wrong = acked.filter((w) => sha256(image.subarray(w.off, w.off + 256 * 1024)) !== w.hash);
    expect(wrong.map((w) => w.off)).toEqual([]);
    // And in the source, once split has started again (it re-applies what the appliance
    // holds beyond the source: a failed write whose record still became durable) — on a
    // drive filled to its last byte, as the writes may leave it: split must start there.
    fillDrive(fsDir);
    expect(statfsSync(fsDir).bavail).toBe(0);
    const again = await startSplit(app, 'f', join(tmp.dir, 'f.sock'));
    await again.stopCleanly();
    expect(sha256(readFileSync(source))).toBe(sha256(latestImage(app, 'f', join(tmp.dir, 'now2.img'))));
  }, 300_000);
});
