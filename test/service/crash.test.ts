import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { sh, tempDir } from '../devices/loop-device.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { client, startServiceProcess, type ServiceProcess } from './service-fixture.js';

/** A process that keeps writing random 64 KiB blocks at random offsets of a file, synced, until killed. */
function startWriter(path: string, size: number) {
  const script = `
    const fs = require('node:fs');
    const fd = fs.openSync(${JSON.stringify(path)}, 'r+');
    setInterval(() => {
      const at = Math.floor(Math.random() * (${size} / 65536)) * 65536;
      fs.writeSync(fd, require('node:crypto').randomBytes(65536), 0, 65536, at);
      fs.fdatasyncSync(fd);
    }, 10);`;
  return spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
}

describe('SIGKILL of chronodisk service while it captures', () => {
  const tmp = tempDir('chronodisk-service-crash-');
  const app = join(tmp.dir, 'app');
  const image = join(tmp.dir, 'vol.img');
  const socket = join(tmp.dir, 'service.sock');
  const size = 64 * 1024 * 1024;
  let service: ServiceProcess | undefined;
  let writer: ReturnType<typeof startWriter> | undefined;

  afterAll(async () => {
    writer?.kill('SIGKILL');
    await service?.stop('SIGKILL');
    tmp.remove();
  });

  it('leaves an appliance that opens and passes check, with every point it announced', async () => {
    sh('truncate', ['-s', String(size), image]);
    expect(runCli(['init', app]).status).toBe(0);
    expect(runCli(['protect', image, '-a', app, '--name', 'vol', '--block-size', '64K']).status).toBe(0);
    service = await startServiceProcess(['-a', app, '--socket', socket, '--split-dir', join(tmp.dir, 'split')]);
    const c = await client(socket);
    await c.request('setSettings', { scanIntervalSec: 1 });
    writer = startWriter(image, size);
    // Scheduled passes and requested ones, while the writer writes.
    const announced = () => service!.lines.filter((l) => l.event === 'point').map((l) => l.seq as number);
    const until = Date.now() + 60_000;
    while (announced().length < 6 && Date.now() < until) {
      await c.request('captureNow', { disk: 'vol' }).catch(() => undefined); // busy while one runs
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(announced().length).toBeGreaterThanOrEqual(6);
    await new Promise((r) => setTimeout(r, 150 + Math.random() * 400)); // kill at some moment of the next pass
    const points = announced();
    await service.stop('SIGKILL');
    writer.kill('SIGKILL');
    c.close();

    const check = runCli(['check', '-a', app, '--read-data']);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const onTimeline = new Set(runCliJson<{ points: Array<{ seq: number }> }>(['timeline', 'vol', '--all', '-a', app]).points.map((p) => p.seq));
    for (const seq of points) expect(onTimeline.has(seq), `announced point ${seq}`).toBe(true);

    // And it serves again, its stale socket taken over.
    service = await startServiceProcess(['-a', app, '--socket', socket, '--split-dir', join(tmp.dir, 'split')]);
    const again = await client(socket);
    expect((await again.request('listDisks', {}))[0]!.points).toBeGreaterThanOrEqual(points.length);
    again.close();
    expect(await service.stop('SIGTERM')).toBe(0);
  });
});
