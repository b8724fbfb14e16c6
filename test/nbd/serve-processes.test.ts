/**
 * `chronodisk serve` hands each connection to one of its child processes, which opens the
 * appliance itself and serves the connection whole (image-serve-processes.ts). These cases
 * are the ones a child could get wrong: an encrypted appliance (each child opens it with the
 * passphrase, sent over the IPC channel), a history of overlapping writes read through many
 * connections at once, a damaged record (the read fails with EIO, the server keeps serving,
 * then stops cleanly), a child that dies (only its connections go), and a parent that is
 * killed (the children do not outlive it).
 */
import { execFileSync } from 'node:child_process';
import { openSync, readFileSync, readdirSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from '../helpers/cli.js';
import { parseWhole, startCliServer } from './cli-server.js';
import { fileSha256, nbdsh, runOk, tempDir, waitFor, writeRandomImage } from './fixtures.js';

interface ServeInfo {
  exports: Array<{ name: string; seq: number; uri: string }>;
}

describe('chronodisk serve on child processes', () => {
  const tmp = tempDir('chronodisk-serve-readers-');
  const app = join(tmp.dir, 'app');
  const keyFile = join(tmp.dir, 'key');
  const src = join(tmp.dir, 'src.img');
  const size = 8 << 20;
  let seqs: number[] = [];

  beforeAll(() => {
    writeFileSync(keyFile, 'a passphrase for the serving processes\n');
    writeRandomImage(src, size);
    expect(runCli(['init', app, '--encrypt', '--key-file', keyFile]).status).toBe(0);
    expect(runCli(['protect', src, '-a', app, '--key-file', keyFile, '--name', 'vm']).status).toBe(0);
    // Three points, each overwriting stretches that overlap the last one's.
    for (let round = 0; round < 3; round++) {
      if (round > 0) {
        const fd = openSync(src, 'r+');
        for (let at = round * 12_288; at < size; at += 1 << 20) writeSync(fd, Buffer.alloc(40_960, 0x30 + round), 0, 40_960, at);
        closeSync(fd);
      }
      const r = runCli(['capture', 'vm', '-a', app, '--key-file', keyFile]);
      expect(r.status, r.stderr).toBe(0);
    }
    seqs = runCliJson<{ points: Array<{ seq: number }> }>(['timeline', 'vm', '-a', app, '--key-file', keyFile, '--all']).points.map((p) => p.seq);
    expect(seqs.length).toBe(3);
  });
  afterAll(() => tmp.cleanup());

  it('serves every point of an encrypted appliance as chronodisk image writes it, over 4 connections at once', async () => {
    const socket = join(tmp.dir, 'enc.sock');
    const names = seqs.map((s) => `vm@${s}`);
    const server = await startCliServer(['serve', '-a', app, '--key-file', keyFile, '--socket', socket, ...names], (o) => parseWhole<ServeInfo>(o));
    try {
      const shas = new Set<string>();
      for (const e of server.info.exports) {
        const viaNbd = join(tmp.dir, `nbd-${e.seq}.img`);
        const viaCli = join(tmp.dir, `cli-${e.seq}.img`);
        await runOk('nbdcopy', ['--connections=4', '--requests=32', '--request-size=65536', e.uri, viaNbd]);
        expect(runCli(['image', 'vm', '-a', app, '--key-file', keyFile, '--at', String(e.seq), '--out', viaCli]).status).toBe(0);
        expect(fileSha256(viaNbd), `point ${e.seq}`).toBe(fileSha256(viaCli));
        shas.add(fileSha256(viaCli));
      }
      expect(shas.size).toBe(3); // the points differ, so an export read at the wrong point fails
    } finally {
      await server.stopCleanly();
    }
  });

  it('a serving process that dies takes only its connections: new ones go to the others', async () => {
    const socket = join(tmp.dir, 'kill.sock');
    const server = await startCliServer(['serve', '-a', app, '--key-file', keyFile, '--socket', socket, `vm@${seqs[2]}`], (o) => parseWhole<ServeInfo>(o));
    try {
      const children = childrenOf(server.child.pid!);
      expect(children.length, 'serving processes').toBeGreaterThanOrEqual(1);
      const uri = server.info.exports[0]!.uri;
      const expected = join(tmp.dir, 'kill-expected.img');
      expect(runCli(['image', 'vm', '-a', app, '--key-file', keyFile, '--at', String(seqs[2]), '--out', expected]).status).toBe(0);
      if (children.length > 1) {
        process.kill(children[0]!, 'SIGKILL');
        await waitFor(() => !childrenOf(server.child.pid!).includes(children[0]!), 10_000, 'the killed serving process to be gone');
      }
      // Every new connection lands on a live process: four in a row all read the image whole.
      for (let i = 0; i < 4; i++) {
        const got = join(tmp.dir, `kill-${i}.img`);
        await runOk('nbdcopy', ['--connections=1', uri, got]);
        expect(fileSha256(got), `copy ${i}`).toBe(fileSha256(expected));
      }
    } finally {
      await server.stopCleanly();
    }
  });

  it('stops its serving processes when it stops, and they do not outlive a SIGKILL of it', async () => {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      const socket = join(tmp.dir, `stop-${signal}.sock`);
      const server = await startCliServer(['serve', '-a', app, '--key-file', keyFile, '--socket', socket, `vm@${seqs[0]}`], (o) => parseWhole<ServeInfo>(o));
      const children = childrenOf(server.child.pid!);
      expect(children.length).toBeGreaterThanOrEqual(1);
      // A connection open at the time: its process must still go.
      const r = await nbdsh(server.info.exports[0]!.uri, 'h.pread(4096, 0); print("ok")');
      expect(r.stdout.trim(), r.stderr).toBe('ok');
      await server.stop(signal);
      await waitFor(() => children.every((pid) => !alive(pid)), 15_000, `the serving processes to exit after ${signal} of chronodisk serve`);
    }
  });

  it('a damaged record fails its read with EIO; other reads go on and the server stops cleanly', async () => {
    // Flip bytes in the middle of the largest segment: inside some record's payload.
    const segDir = join(app, 'segments');
    const seg = readdirSync(segDir)
      .map((f) => join(segDir, f))
      .sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
    const fd = openSync(seg, 'r+');
    writeSync(fd, Buffer.alloc(64, 0xee), 0, 64, Math.floor(statSync(seg).size / 2));
    closeSync(fd);

    const socket = join(tmp.dir, 'damaged.sock');
    const server = await startCliServer(['serve', '-a', app, '--key-file', keyFile, '--socket', socket, `vm@${seqs[0]}`], (o) => parseWhole<ServeInfo>(o));
    try {
      // Read the disk in 64 KiB pieces on one connection: some fail with EIO, the rest answer.
      const script = [
        'ok = bad = 0',
        `for at in range(0, ${size}, 65536):`,
        '    try:',
        '        h.pread(65536, at); ok += 1',
        '    except nbd.Error as e:',
        '        assert e.errno == "EIO", e.errno',
        '        bad += 1',
        'print(ok, bad)',
      ].join('\n');
      const r = await nbdsh(server.info.exports[0]!.uri, script);
      expect(r.code, r.stderr).toBe(0);
      const [ok, bad] = r.stdout.trim().split(' ').map(Number);
      expect(bad).toBeGreaterThan(0);
      expect(ok).toBeGreaterThan(0);
      expect(ok! + bad!).toBe(size / 65536);
    } finally {
      await server.stopCleanly();
    }
  });
});

/** The pids of a process's children. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

/** Running (a zombie waiting to be reaped by whoever adopted it counts as gone). */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
}
