/**
 * `chronodisk serve` with real clients: nbdinfo lists the DISK@POINT exports, nbdcopy and
 * qemu-img read each one as `chronodisk image` writes it, raw writes to a read-only export
 * are refused with EPERM, and --overlay writes stay on their connection.
 */
import { openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from '../helpers/cli.js';
import { startCliServer, parseWhole } from './cli-server.js';
import { fileSha256, nbdsh, run, runOk, tempDir, writeRandomImage } from './fixtures.js';

interface ServeInfo {
  socket: string;
  overlay: boolean;
  exports: Array<{ name: string; seq: number; time: string; uri: string }>;
}
interface Timeline {
  points: Array<{ seq: number; flags: string[] }>;
}

describe('chronodisk serve with real NBD clients', () => {
  const tmp = tempDir('chronodisk-serve-');
  const app = join(tmp.dir, 'app');
  let seqs: number[] = [];

  beforeAll(() => {
    const src = join(tmp.dir, 'src.img');
    writeRandomImage(src, 12 << 20);
    expect(runCli(['init', app]).status).toBe(0);
    expect(runCli(['protect', src, '-a', app, '--name', 'vm']).status).toBe(0);
    expect(runCli(['capture', 'vm', '-a', app]).status).toBe(0);
    // A second point that differs from the first in a few places.
    const fd = openSync(src, 'r+');
    for (const at of [0, 5 << 20, (12 << 20) - 4096]) writeSync(fd, Buffer.alloc(4096, 0xc3), 0, 4096, at);
    closeSync(fd);
    expect(runCli(['capture', 'vm', '-a', app]).status).toBe(0);
    seqs = runCliJson<Timeline>(['timeline', 'vm', '-a', app, '--all']).points.map((p) => p.seq);
    expect(seqs.length).toBe(2);
  });
  afterAll(() => tmp.cleanup());

  it('lists DISK@POINT exports; nbdcopy and qemu-img read each as chronodisk image writes it; raw writes get EPERM', async () => {
    const socket = join(tmp.dir, 'serve.sock');
    const names = [`vm@${seqs[0]}`, 'vm@now'];
    const server = await startCliServer(['serve', '-a', app, '--socket', socket, ...names], (o) => parseWhole<ServeInfo>(o));
    try {
      expect(server.info.overlay).toBe(false);
      expect(server.info.exports.map((e) => [e.name, e.seq])).toEqual([[names[0], seqs[0]], [names[1], seqs[1]]]);

      const list = JSON.parse(await runOk('nbdinfo', ['--json', '--list', `nbd+unix:///?socket=${socket}`])) as {
        exports: Array<{ 'export-name': string; description?: string; 'export-size': number; 'is_read_only'?: boolean }>;
      };
      const listed = new Map(list.exports.map((e) => [e['export-name'], e]));
      for (const [i, name] of names.entries()) {
        const e = listed.get(name);
        expect(e, `export ${name} listed`).toBeDefined();
        expect(e!.description).toContain(`point ${seqs[i]}`);
        expect(e!['export-size']).toBe(12 << 20);
      }

      const shas: string[] = [];
      for (const [i, e] of server.info.exports.entries()) {
        const viaNbd = join(tmp.dir, `nbd-${i}.img`);
        const viaCli = join(tmp.dir, `cli-${i}.img`);
        await runOk('nbdcopy', [e.uri, viaNbd]);
        expect(runCli(['image', 'vm', '-a', app, '--at', String(e.seq), '--out', viaCli]).status).toBe(0);
        expect(fileSha256(viaNbd)).toBe(fileSha256(viaCli));
        const cmp = await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', viaCli, e.uri]);
        expect(cmp.code, cmp.stdout + cmp.stderr).toBe(0);
        shas.push(fileSha256(viaCli));
      }
      expect(shas[0]).not.toBe(shas[1]); // the two points differ, so a mixed-up export fails

      // Raw writes, trims and zeroes on a read-only export: refused, nothing changes.
      const uri = server.info.exports[0]!.uri;
      // strict mode off: libnbd would refuse these itself; the server must answer them.
      const script = [
        'h2 = nbd.NBD()',
        'h2.set_strict_mode(0)',
        'h2.connect_uri(h.get_uri())',
        'for op in (lambda: h2.pwrite(b"\\x5a" * 4096, 0), lambda: h2.zero(4096, 8192), lambda: h2.trim(4096, 16384)):',
        '    try:',
        '        op(); print("accepted")',
        '    except nbd.Error as e:',
        '        print(e.errno)',
        'print("ro", h2.is_read_only())',
      ].join('\n');
      const r = await nbdsh(uri, script);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual(['EPERM', 'EPERM', 'EPERM', 'ro True']);
      const qio = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 0 64k', uri]);
      expect(qio.stdout + qio.stderr).toMatch(/Operation not permitted|read-only|Permission denied/i);
      const after = join(tmp.dir, 'after.img');
      await runOk('nbdcopy', [uri, after]);
      expect(fileSha256(after)).toBe(shas[0]);
    } finally {
      await server.stopCleanly();
    }
  });

  it('--overlay: writes read back on their connection, a new connection sees the point, check passes', async () => {
    const socket = join(tmp.dir, 'overlay.sock');
    const server = await startCliServer(['serve', '-a', app, '--socket', socket, '--overlay', `vm@${seqs[1]}`], (o) => parseWhole<ServeInfo>(o));
    try {
      expect(server.info.overlay).toBe(true);
      const uri = server.info.exports[0]!.uri;
      const qio = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 4096 192k', '-c', 'read -P 0x5a 4096 192k', '-c', 'read -P 0xc3 0 4k', uri]);
      expect(qio.code, qio.stdout + qio.stderr).toBe(0);
      expect(qio.stdout + qio.stderr).not.toMatch(/fail|error/i);
      expect(qio.stdout).toMatch(/wrote 196608\/196608/);
      expect(qio.stdout.match(/read \d+\/\d+/g)).toEqual(['read 196608/196608', 'read 4096/4096']);

      const fresh = join(tmp.dir, 'fresh.img');
      const point = join(tmp.dir, 'point.img');
      await runOk('nbdcopy', [uri, fresh]);
      expect(runCli(['image', 'vm', '-a', app, '--at', String(seqs[1]), '--out', point]).status).toBe(0);
      expect(fileSha256(fresh)).toBe(fileSha256(point));
    } finally {
      await server.stopCleanly();
    }
    const check = runCli(['check', '-a', app]);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(runCliJson<Timeline>(['timeline', 'vm', '-a', app, '--all']).points.map((p) => p.seq)).toEqual(seqs);
  });
});
