/**
 * `chronodisk split` under pipelined, overlapping writes on two connections at once: each
 * write is its own point and source writes run side by side unless they overlap, so this
 * is where a wrong order would show. After a clean stop the source must equal the latest
 * point byte for byte, and a restart must find nothing to re-apply that changes it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from '../helpers/cli.js';
import { jsonLines, startCliServer } from './cli-server.js';
import { fileSha256, run, runOk, tempDir } from './fixtures.js';

function startSplit(app: string, socket: string) {
  return startCliServer(['split', '-a', app, 'vm', '--socket', socket], (o) => {
    const first = o.includes('\n') ? jsonLines(o)[0] : undefined;
    return first?.event === 'listening' ? (first as { uri: string }) : undefined;
  });
}

describe('chronodisk split with overlapping writes in flight', () => {
  const tmp = tempDir('chronodisk-split-concurrent-');
  afterAll(() => tmp.cleanup());

  it('the source equals the latest point after 3,000 pipelined overlapping writes on two connections', async () => {
    const app = join(tmp.dir, 'app');
    const source = join(tmp.dir, 'source.img');
    const size = 8 << 20;
    await runOk('truncate', ['-s', String(size), source]);
    expect(runCli(['init', app]).status).toBe(0);
    expect(runCli(['protect', source, '-a', app, '--mode', 'split', '--name', 'vm']).status).toBe(0);
    // Writes of 4-64 KiB over the first 1 MiB (so most overlap others in flight), 48 in
    // flight per connection, each filled with its own byte pattern; zeroes now and then.
    const loader = join(tmp.dir, 'load.py');
    writeFileSync(loader, [
      'import sys, random, struct, nbd',
      'hs = [nbd.NBD(), nbd.NBD()]',
      'for h in hs: h.connect_uri(sys.argv[1])',
      'rnd = random.Random(1234); keep = []',
      'for i in range(3000):',
      '    h = hs[i % 2]',
      '    n = rnd.randint(1, 16) * 4096; off = rnd.randrange(0, (1 << 20) - n + 1, 4096)',
      '    if i % 50 == 49:',
      '        h.aio_zero(n, off)',
      '    else:',
      '        buf = nbd.Buffer.from_bytearray(bytearray(struct.pack("<I", i + 1) * (n // 4)))',
      '        keep.append(buf); h.aio_pwrite(buf, off)',
      '    while h.aio_in_flight() >= 48: h.poll(-1)',
      'for h in hs:',
      '    while h.aio_in_flight() > 0: h.poll(-1)',
      'hs[0].flush()',
      'print("done")',
    ].join('\n'));
    const socket = join(tmp.dir, 'split.sock');
    const split = await startSplit(app, socket);
    try {
      const r = await run('/usr/bin/python3', [loader, split.info.uri], { timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('done');
    } finally {
      await split.stopCleanly();
    }
    const points = runCliJson<{ points: Array<{ seq: number }> }>(['timeline', 'vm', '-a', app, '--all']).points;
    expect(points.length).toBeGreaterThanOrEqual(3001); // the baseline, each write, the flush
    const latest = join(tmp.dir, 'latest.img');
    expect(runCli(['image', 'vm', '-a', app, '--at', 'now', '--out', latest]).status).toBe(0);
    const want = fileSha256(latest);
    expect(fileSha256(source)).toBe(want);

    // A restart re-applies from the applied marker: the source must not change.
    const again = await startSplit(app, socket);
    await again.stopCleanly();
    expect(fileSha256(source)).toBe(want);
    const check = runCli(['check', '-a', app]);
    expect(check.status, check.stdout + check.stderr).toBe(0);
  }, 180_000);
});
