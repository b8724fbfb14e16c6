/**
 * `chronodisk split` with real clients. A kernel ext4 goes through it (nbdfuse + loop):
 * every crash-consistent point after mkfs is a clean filesystem, the last point (final, made
 * by the stop) is the source. Then the split server is SIGKILLed under a raw write load: every write it
 * acknowledged is in the appliance and, once split has restarted, in the source.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from '../helpers/cli.js';
import { prng } from '../helpers/prng.js';
import { jsonLines, startCliServer } from './cli-server.js';
import { fileSha256, makeTree, run, runOk, tempDir, waitFor } from './fixtures.js';

interface Timeline {
  points: Array<{ seq: number; flags: string[] }>;
}



function startSplit(app: string, disk: string, socket: string) {
  return startCliServer(['split', '-a', app, disk, '--socket', socket], (o) => {
    const first = o.includes('\n') ? jsonLines(o)[0] : undefined;
    return first?.event === 'listening' ? (first as { uri: string }) : undefined;
  });
}

function points(app: string, disk: string): Timeline['points'] {
  return runCliJson<Timeline>(['timeline', disk, '-a', app, '--all']).points;
}

function imageAt(app: string, disk: string, at: string | number, out: string): void {
  const r = runCli(['image', disk, '-a', app, '--at', String(at), '--out', out, '--force']);
  if (r.status !== 0) throw new Error(`image ${disk}@${at}: ${r.stderr}`);
}

/** Spread `n` picks over `items`, always keeping the last. */
function sample<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items;
  const picked = new Set<number>();
  for (let i = 0; i < n - 1; i++) picked.add(Math.floor((i * (items.length - 1)) / (n - 1)));
  picked.add(items.length - 1);
  return [...picked].sort((a, b) => a - b).map((i) => items[i]!);
}

describe('chronodisk split with real clients', () => {
  const tmp = tempDir('chronodisk-split-');
  const app = join(tmp.dir, 'app');
  beforeAll(() => {
    expect(runCli(['init', app]).status).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  it('ext4 through split (nbdfuse + loop): crash-consistent points are clean, the last point is the source', async () => {
    const source = join(tmp.dir, 'fs.img');
    await runOk('truncate', ['-s', '64M', source]);
    expect(runCli(['protect', source, '-a', app, '--mode', 'split', '--name', 'fs']).status).toBe(0);
    const tree = join(tmp.dir, 'tree');
    makeTree(tree, 4, 20, 200_000);
    const fuseDir = join(tmp.dir, 'fuse');
    const mnt = join(tmp.dir, 'mnt');
    mkdirSync(fuseDir);
    mkdirSync(mnt);
    const pidfile = join(tmp.dir, 'nbdfuse.pid');

    const split = await startSplit(app, 'fs', join(tmp.dir, 'fs.sock'));
    let fuse: ChildProcess | undefined;
    let fuseMounted = false;
    let loop = '';
    let mounted = false;
    let afterMkfs = 0;
    try {
      fuse = spawn('nbdfuse', ['-P', pidfile, join(fuseDir, 'disk'), split.info.uri], { stdio: ['ignore', 'ignore', 'pipe'] });
      await waitFor(() => existsSync(pidfile) || fuse!.exitCode !== null, 20_000, 'nbdfuse');
      expect(fuse.exitCode).toBe(null);
      fuseMounted = true;
      loop = (await runOk('losetup', ['-f', '--show', join(fuseDir, 'disk')])).trim();
      await runOk('mkfs.ext4', ['-q', '-F', '-L', 'split', loop]);
      await runOk('sync', []);
      afterMkfs = Math.max(...jsonLines(split.stdout()).filter((l) => l.event === 'point').map((l) => l.seq as number));
      await runOk('mount', [loop, mnt]);
      mounted = true;
      await runOk('cp', ['-a', `${tree}/.`, mnt]);
      await runOk('sync', []);
      await runOk('umount', [mnt]);
      mounted = false;
      await runOk('losetup', ['-d', loop]);
      loop = '';
      await runOk('umount', [fuseDir]);
      fuseMounted = false;
      await waitFor(() => fuse!.exitCode !== null, 10_000, 'nbdfuse to exit');
    } finally {
      if (mounted) await run('umount', [mnt]);
      if (loop) await run('losetup', ['-d', loop]);
      if (fuseMounted) await run('umount', [fuseDir]);
      if (fuse && fuse.exitCode === null) fuse.kill();
      await split.stopCleanly();
    }

    const all = points(app, 'fs');
    const last = all[all.length - 1]!;
    // A clean stop ends the run with a final point; a run that wrote nothing adds none.
    expect(last.flags).toEqual(expect.arrayContaining(['crash-consistent', 'final']));
    const idle = await startSplit(app, 'fs', join(tmp.dir, 'fs.sock'));
    await idle.stopCleanly();
    expect(points(app, 'fs').map((p) => p.seq)).toEqual(all.map((p) => p.seq));
    const latest = join(tmp.dir, 'fs-latest.img');
    imageAt(app, 'fs', last.seq, latest);
    expect(fileSha256(latest)).toBe(fileSha256(source));

    // Crash-consistent points once mkfs was done: each one is a clean ext4 for e2fsck -fn
    // (after a journal replay if the point caught a transaction open, as a crash would).
    const consistent = all.filter((p) => p.flags.includes('crash-consistent') && p.seq >= afterMkfs);
    expect(consistent.length).toBeGreaterThanOrEqual(3);
    const picks = sample(consistent, 10);
    if (!picks.includes(last)) picks.push(last);
    const img = join(tmp.dir, 'fs-point.img');
    for (const p of picks) {
      imageAt(app, 'fs', p.seq, img);
      let fsck = await run('e2fsck', ['-fn', img]);
      if (fsck.code !== 0 && /needs_recovery/.test(await runOk('dumpe2fs', ['-h', img]))) {
        // A point taken mid-transaction: clean once its journal is replayed, as mount would.
        await run('e2fsck', ['-fy', '-E', 'journal_only', img]);
        fsck = await run('e2fsck', ['-fn', img]);
      }
      expect(fsck.code, `point ${p.seq}: ${fsck.stdout}${fsck.stderr}`).toBe(0);
    }
    const check = runCli(['check', '-a', app]);
    expect(check.status, check.stdout + check.stderr).toBe(0);
  }, 110_000);

  it('SIGKILL under a raw write load: acknowledged writes are in the appliance, and in the source after a restart', async () => {
    const size = 16 << 20;
    const source = join(tmp.dir, 'load.img');
    await runOk('truncate', ['-s', String(size), source]);
    expect(runCli(['protect', source, '-a', app, '--mode', 'split', '--name', 'load']).status).toBe(0);
    const socket = join(tmp.dir, 'load.sock');
    // Writes of 1-8 blocks, each filled with its own 32-bit id; "S" before sending, "A" once acknowledged.
    const loader = join(tmp.dir, 'load.py');
    writeFileSync(loader, [
      'import sys, random, struct, nbd',
      'h = nbd.NBD(); h.connect_uri(sys.argv[1])',
      'rnd = random.Random(int(sys.argv[2])); wid = int(sys.argv[3])',
      `blocks = ${size / 4096}`,
      'while True:',
      '    n = rnd.randint(1, 8); b = rnd.randrange(0, blocks - n); wid += 1',
      '    fua = rnd.random() < 0.2',
      '    print("S", b, n, wid, flush=True)',
      '    h.pwrite(struct.pack("<I", wid) * (n * 1024), b * 4096, nbd.CMD_FLAG_FUA if fua else 0)',
      '    print("A", b, n, wid, flush=True)',
      '    if rnd.random() < 0.1: h.flush()',
    ].join('\n'));

    const expected = new Map<number, number>(); // block -> id of its last acknowledged write
    const blockId = (file: string, block: number): number | undefined => {
      const fd = openSync(file, 'r');
      try {
        const buf = Buffer.alloc(4096);
        readSync(fd, buf, 0, 4096, block * 4096);
        const id = buf.readUInt32LE(0);
        for (let i = 0; i < 4096; i += 4) if (buf.readUInt32LE(i) !== id) return undefined;
        return id;
      } finally {
        closeSync(fd);
      }
    };
    const rand = prng(0x5917);
    let nextId = 0;
    const rounds = 4;
    for (let round = 0; round < rounds; round++) {
      const split = await startSplit(app, 'load', socket);
      let log = '';
      const py = spawn('/usr/bin/python3', [loader, split.info.uri, String(round + 1), String(nextId)], { stdio: ['ignore', 'pipe', 'pipe'] });
      py.stdout!.on('data', (c) => (log += c));
      const pyExit = new Promise((r) => py.once('exit', r));
      await waitFor(() => log.split('\nA ').length > 20 || py.exitCode !== null, 20_000, 'acknowledged writes');
      await new Promise((r) => setTimeout(r, 200 + rand() * 1200));
      await split.stop('SIGKILL');
      await pyExit;
      const lines = log.split('\n').filter((l) => /^[SA] \d+ \d+ \d+$/.test(l)).map((l) => l.split(' '));
      const acked = lines.filter((l) => l[0] === 'A').map(([, b, n, id]) => ({ b: Number(b), n: Number(n), id: Number(id) }));
      const sent = lines.filter((l) => l[0] === 'S').map(([, b, n, id]) => ({ b: Number(b), n: Number(n), id: Number(id) }));
      expect(acked.length, `round ${round}: acknowledged writes`).toBeGreaterThan(20);
      const inflight = sent.length > acked.length ? sent[sent.length - 1]! : undefined;
      nextId = sent[sent.length - 1]!.id;
      for (const w of acked) for (let i = 0; i < w.n; i++) expected.set(w.b + i, w.id);

      const verify = (file: string, what: string) => {
        const inflightBlocks = new Set<number>();
        if (inflight) for (let i = 0; i < inflight.n; i++) inflightBlocks.add(inflight.b + i);
        let bad = 0;
        for (const [block, id] of expected) {
          const got = blockId(file, block);
          if (got === id) continue;
          if (inflightBlocks.has(block) && got === inflight!.id) continue;
          bad++;
        }
        expect(bad, `round ${round}: ${what}: acknowledged blocks not holding their write`).toBe(0);
      };
      const latest = join(tmp.dir, 'load-latest.img');
      imageAt(app, 'load', 'now', latest);
      verify(latest, 'latest point');

      // Restart: committed ranges go back to the source; then a clean stop.
      const again = await startSplit(app, 'load', socket);
      await again.stopCleanly();
      verify(source, 'source after restart');
      expect(fileSha256(source), `round ${round}: source equals the latest point`).toBe(fileSha256(latest));
      // The in-flight write, if it reached the appliance, is now the truth for its blocks.
      if (inflight) for (let i = 0; i < inflight.n; i++) if (blockId(source, inflight.b + i) === inflight.id) expected.set(inflight.b + i, inflight.id);
    }
    expect(readFileSync(source).length).toBe(size);
    const check = runCli(['check', '-a', app]);
    expect(check.status, check.stdout + check.stderr).toBe(0);
  }, 110_000);
});
