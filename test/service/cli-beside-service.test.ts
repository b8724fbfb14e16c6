import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { attachLoop, makeImage, sh, tempDir } from '../devices/loop-device.js';
import { viaRunningService } from '../../electron/cli/running-service.js';
import { cliPath, runCli, runCliJson } from '../helpers/cli.js';
import { sha256 } from '../helpers/history.js';
import { client, nextEvent, startServiceProcess, watchJobs, type ServiceProcess } from './service-fixture.js';

type Timeline = { points: Array<{ seq: number }>; bookmarks: Array<{ seq: number; label: string }> };

/**
 * `chronodisk mark` and `unmark` while a real `chronodisk service` is the appliance's
 * writer: the service names its socket in writer.json and the CLI asks it there, so the
 * bookmark is made by the writer (and the window hears of it) instead of the CLI failing
 * as locked. A writer without a socket (`chronodisk run`) still refuses, by name.
 */
describe('write commands beside a running service', () => {
  const tmp = tempDir('chronodisk-cli-beside-');
  const app = join(tmp.dir, 'app');
  const socket = join(tmp.dir, 'service.sock');
  const split = join(tmp.dir, 'split');
  let service: ServiceProcess | undefined;
  let first = 0;

  beforeAll(() => {
    sh('truncate', ['-s', '32M', join(tmp.dir, 'vol.img')]);
    sh('mkfs.ext4', ['-q', '-F', join(tmp.dir, 'vol.img')]);
    expect(runCli(['init', app]).status).toBe(0);
    expect(runCli(['protect', join(tmp.dir, 'vol.img'), '-a', app, '--name', 'vol']).status).toBe(0);
    first = runCliJson<{ seq: number }>(['capture', 'vol', '-a', app]).seq;
  }, 120_000);

  // A test that failed left its service running: the next one starts its own.
  beforeEach(async () => {
    await service?.stop('SIGKILL');
    service = undefined;
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
    tmp.remove();
  });

  it('mark and unmark are answered by the service, which tells its clients', async () => {
    service = await startServiceProcess(['-a', app, '--socket', socket, '--split-dir', split]);
    expect(JSON.parse(readFileSync(join(app, 'writer.json'), 'utf8'))).toMatchObject({ pid: service.child.pid, command: 'chronodisk service', socket });
    const window = await client(socket);
    try {
      const heard = nextEvent(window, 'bookmarksChanged', (e) => e.disk === 'vol', 20_000);
      const mark = runCli(['mark', 'vol', 'before upgrade', '--at', String(first), '-a', app]);
      expect(mark.stderr).toBe('');
      expect(mark.stdout).toBe(`Marked point ${first} of vol as "before upgrade".\n`);
      await heard;
      expect((await window.request('timeline', { disk: 'vol' })).bookmarks).toContainEqual(expect.objectContaining({ seq: first, label: 'before upgrade' }));
      // --json has the shape it has without a service; the service's errors are the CLI's.
      expect(runCliJson(['mark', 'vol', 'latest', '-a', app])).toMatchObject({ disk: 'vol', seq: expect.any(Number), label: 'latest', time: expect.any(String) });
      const again = runCli(['mark', 'vol', 'before upgrade', '-a', app]);
      expect({ status: again.status, stderr: again.stderr }).toEqual({ status: 1, stderr: 'chronodisk: vol already has a bookmark "before upgrade"; choose another label, or remove that bookmark first\n' });
      const early = runCli(['mark', 'vol', 'too early', '--at', '1', '-a', app]);
      expect(early.status).toBe(1);
      expect(early.stderr).toMatch(/^chronodisk: vol has no point at or before 1; its first point is \d+/);
      expect(runCli(['mark', 'nosuch', 'x', '-a', app]).stderr).toMatch(/^chronodisk: no disk named "nosuch"/);
      const unmark = runCli(['unmark', 'vol', 'before upgrade', '-a', app]);
      expect(unmark.stdout).toBe('Removed bookmark "before upgrade" of vol.\n');
      expect(runCli(['unmark', 'vol', 'before upgrade', '-a', app]).stderr).toBe('chronodisk: vol has no bookmark "before upgrade"\n');
      // A reader sees what the service wrote.
      expect(runCliJson<Timeline>(['timeline', 'vol', '-a', app]).bookmarks.map((b) => b.label)).toEqual(['latest']);

      // retention: a change is made by the service (the levels not given stay); showing reads.
      expect(runCliJson(['retention', 'vol', '--daily', '2y', '--weekly', 'inf', '--min-free', '1M', '-a', app])).toEqual({ disk: 'vol', keepAll: '1d', hourly: '30d', daily: '2y', weekly: 'inf', minFreeBytes: 1024 * 1024 });
      expect(runCli(['retention', 'vol', '--hourly', '60d', '-a', app]).stdout).toBe('vol: every point for 1d, hourly up to 60d, daily up to 2y, weekly forever; bookmarks kept until removed.\nThinning starts early below 1.00 MiB free on the appliance.\n');
      const shorter = runCli(['retention', 'vol', '--daily', '1h', '-a', app]);
      expect({ status: shorter.status, stderr: shorter.stderr }).toEqual({ status: 2, stderr: 'chronodisk: retention daily up to 1h ends before hourly (60d) does, so it would keep nothing; make it longer, or 0 for none\n' });
      expect(runCli(['retention', 'vol', '--min-free', '1T', '-a', app]).stderr).toMatch(/^chronodisk: a free-space floor of 1\.0+ TiB is no smaller than the appliance's drive .*; choose a smaller one\n$/);
      expect(runCliJson(['retention', 'vol', '-a', app])).toMatchObject({ hourly: '60d', daily: '2y', minFreeBytes: 1024 * 1024 });
    } finally {
      window.close();
    }
    expect(await service.stop('SIGTERM')).toBe(0);
    service = undefined;
  }, 120_000);

  it('protect, capture, restore and unprotect are done by the service, which starts and stops capturing the disk', async () => {
    const spare = attachLoop(makeImage(join(tmp.dir, 'spare.img'), 32 * 1024 * 1024));
    service = await startServiceProcess(['-a', app, '--socket', socket, '--split-dir', split]);
    const window = await client(socket);
    try {
      const changed = nextEvent(window, 'disksChanged', () => true, 20_000);
      const firstPoint = nextEvent(window, 'pointCommitted', (p) => p.disk === 'spare', 60_000);
      const protect = runCli(['protect', spare.device, '--name', 'spare', '--block-size', '128K', '-a', app]);
      expect(protect.stderr).toBe('');
      expect(protect.stdout).toBe(`Protecting ${spare.device} as spare (32.0 MiB, scan mode). Capture it with chronodisk capture spare -a ${app}, or keep it captured with chronodisk run -a ${app}.\n`);
      await changed;
      const listed = (await window.request('listDisks', {})).find((d) => d.name === 'spare');
      expect(listed).toMatchObject({ source: spare.device, blockSize: 128 * 1024, mode: 'scan', identity: { backingFile: join(tmp.dir, 'spare.img') } });
      // The identity crosses the contract as the engine recorded it: the CLI's own reading prints the same.
      expect(listed!.identity).toEqual(runCliJson<Array<{ name: string; identity: unknown }>>(['disks', '-a', app]).find((d) => d.name === 'spare')!.identity);
      await firstPoint; // the service captures what it protects
      // The service protects drives only: a file is refused by name, and nothing changes.
      const file = runCli(['protect', join(tmp.dir, 'vol.img'), '--name', 'file', '-a', app]);
      expect({ status: file.status, stderr: file.stderr }).toEqual({ status: 1, stderr: `chronodisk: ${join(tmp.dir, 'vol.img')} is a file; the running Chronodisk service (the appliance's writer) protects only drives and partitions: stop it to protect an image file\n` });
      expect(runCli(['protect', spare.device, '-a', app]).stderr).toBe(`chronodisk: ${spare.device} is already protected as spare\n`);

      // capture: the service scans (a job), and the CLI prints what it made.
      const labelled = nextEvent(window, 'pointCommitted', (p) => p.disk === 'spare' && p.label === 'from the cli', 60_000);
      const made = runCliJson<{ disk: string; seq: number; time: string; bytesRead: number; bytesStored: number }>(['capture', 'spare', '--label', 'from the cli', '-a', app]);
      expect(made).toMatchObject({ disk: 'spare', bytesRead: 32 * 1024 * 1024, time: expect.any(String) });
      expect((await labelled).seq).toBe(made.seq);
      expect(runCli(['capture', 'spare', '-a', app]).stdout).toMatch(/^spare: point \d+ at \S+ — read 32\.0 MiB \(.+\), .+ changed, .+ stored(, crash-consistent \(frozen\))?\.\n$/);
      expect(runCli(['capture', 'spare', '--label', 'two\nlines', '-a', app]).stderr).toMatch(/^chronodisk: a point label is one line of text/);
      expect(runCli(['capture', 'nosuch', '-a', app]).stderr).toMatch(/^chronodisk: no disk named "nosuch"/);
      // restore (in place): the service rolls back only what changed since the point.
      sh('dd', ['if=/dev/urandom', `of=${spare.device}`, 'bs=64K', 'seek=16', 'count=8', 'conv=fsync', 'status=none']);
      const limited = runCli(['restore', 'spare', '--at', String(made.seq), '--rate-limit', '10M', '--yes', '-a', app]);
      expect({ status: limited.status, stderr: limited.stderr }).toEqual({ status: 2, stderr: 'chronodisk: --rate-limit applies to a restore run here; the running Chronodisk service restores at full speed (stop it to limit the rate)\n' });
      const rolled = runCliJson<{ kind: string; seq: number; restoreSeq?: number; bytesWritten: number; verified: boolean; beforeRestore?: { label: string } }>(['restore', 'spare', '--at', String(made.seq), '--yes', '-a', app]);
      expect(rolled).toMatchObject({ kind: 'rollback', seq: made.seq, restoreSeq: expect.any(Number), verified: true, beforeRestore: { label: expect.any(String) } });
      expect(rolled.bytesWritten).toBeGreaterThanOrEqual(512 * 1024);
      expect(rolled.bytesWritten).toBeLessThan(32 * 1024 * 1024);
      const atPoint = join(tmp.dir, 'spare-at-point.img');
      expect(runCli(['image', 'spare', '--at', String(made.seq), '--out', atPoint, '-a', app]).status).toBe(0);
      expect(sha256(readFileSync(spare.device))).toBe(sha256(readFileSync(atPoint)));

      // A scan job that fails in the service: its error is the CLI's one line.
      sh('truncate', ['-s', '16M', join(tmp.dir, 'spare.img')]);
      sh('losetup', ['-c', spare.device]);
      const failed = runCli(['capture', 'spare', '-a', app]);
      expect(failed.status).not.toBe(0);
      expect(failed.stderr).toMatch(/^chronodisk: the source of spare \(\/dev\/loop\d+\) changed size: .*\n$/);

      // unprotect: the disk is checked first (the appliance's own error), then the service acts.
      expect(runCli(['unprotect', 'nosuch', '--delete-history', '--yes', '-a', app]).stderr).toMatch(/^chronodisk: no disk named "nosuch" on this appliance \(it has: vol, spare\)\n$/);
      const gone = nextEvent(window, 'disksChanged', () => true, 20_000);
      expect(runCliJson(['unprotect', 'spare', '--delete-history', '--yes', '-a', app])).toEqual({ disk: 'spare', historyDeleted: true });
      await gone;
      expect((await window.request('listDisks', {})).map((d) => d.name)).toEqual(['vol']);
    } finally {
      window.close();
      spare.detach();
    }
    expect(await service.stop('SIGTERM')).toBe(0);
    service = undefined;
  }, 120_000);

  it('a writer without a socket still refuses, naming itself; a dead one left in writer.json is passed over', async () => {
    service = await startServiceProcess(['-a', app], 'run');
    const refused = runCli(['mark', 'vol', 'during run', '-a', app]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`in use by pid ${service.child.pid} on .* \\(chronodisk run, since .*\\); stop that writer first`));
    expect(await service.stop('SIGTERM')).toBe(0);
    service = undefined;
    // A crashed service's writer.json (its pid gone): the CLI opens the appliance itself.
    writeFileSync(join(app, 'writer.json'), `${JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), command: 'chronodisk service', sinceUs: Date.now() * 1000, socket })}\n`);
    const mark = runCli(['mark', 'vol', 'after crash', '-a', app]);
    expect(mark.stderr).toBe('');
    expect(mark.status).toBe(0);
    expect(runCliJson<Timeline>(['timeline', 'vol', '-a', app]).bookmarks.map((b) => b.label).sort()).toEqual(['after crash', 'latest']);
  }, 120_000);

  it('a member of the socket\'s group, not root, marks through the service; a socket in a directory others may write is not trusted', async () => {
    // The service runs as root: a group member cannot read its descriptors in /proc, so the
    // CLI trusts the socket only when root alone could have made it (root's, in a directory
    // only root may write).
    chmodSync(tmp.dir, 0o755);
    const disk = Number(sh('getent', ['group', 'disk']).split(':')[2]);
    service = await startServiceProcess(['-a', app, '--socket', socket, '--split-dir', split, '--group', 'disk']);
    // As nobody in the socket's group. CAP_DAC_READ_SEARCH lets it read our code wherever
    // the checkout lies (CI's may be in a 0700 directory); it gives no ptrace access, so the
    // service's descriptors stay unreadable, as for any member of the group.
    const asMember = (args: string[]) =>
      spawnSync('setpriv', ['--reuid=65534', '--regid=65534', `--groups=${disk}`, '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search', process.execPath, cliPath, ...args, '-a', app], {
        encoding: 'utf8',
        env: { ...process.env, CHRONODISK_APPLIANCE: undefined },
      });
    try {
      const marked = asMember(['mark', 'vol', 'by a member']);
      expect({ status: marked.status, stderr: marked.stderr }).toEqual({ status: 0, stderr: '' });
      expect(marked.stdout).toMatch(/^Marked point \d+ of vol as "by a member"\.\n$/);
      chmodSync(tmp.dir, 0o775); // now the group could have put a socket there
      const refused = asMember(['mark', 'vol', 'not trusted']);
      expect(refused.status).toBe(1);
      expect(refused.stdout).toBe('');
    } finally {
      chmodSync(tmp.dir, 0o700);
    }
    expect(runCliJson<Timeline>(['timeline', 'vol', '-a', app]).bookmarks.map((b) => b.label)).toContain('by a member');
    expect(runCliJson<Timeline>(['timeline', 'vol', '-a', app]).bookmarks.map((b) => b.label)).not.toContain('not trusted');
    expect(await service.stop('SIGTERM')).toBe(0);
    service = undefined;
  }, 120_000);

  it('gives up on a service that does not answer, with one line', async () => {
    // A process that listens on the named socket and never answers: a stuck service.
    const stuck = join(tmp.dir, 'stuck.sock');
    const child = spawn(process.execPath, ['-e', `require('node:net').createServer(() => {}).listen(${JSON.stringify(stuck)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((r) => child.stdout!.once('data', r));
      writeFileSync(join(app, 'writer.json'), `${JSON.stringify({ pid: child.pid, host: hostname(), command: 'chronodisk service', sinceUs: Date.now() * 1000, socket: stuck })}\n`);
      const asked = viaRunningService({ appliance: app }, (s) => s.request('removeBookmark', { disk: 'vol', label: 'x' }), 500);
      await expect(asked).rejects.toThrow(`the Chronodisk service at ${stuck} did not answer within 0.5 s; try again, or restart it`);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);

  it('sends nothing to a socket that the process named in writer.json does not listen on', async () => {
    // writer.json lies on the appliance drive: a live process (here a sleep) named with some
    // other socket must not make the CLI talk to that socket.
    const decoy = join(tmp.dir, 'decoy.sock');
    let connections = 0;
    const server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(decoy, r));
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 100));
      writeFileSync(join(app, 'writer.json'), `${JSON.stringify({ pid: sleeper.pid, host: hostname(), command: 'chronodisk service', sinceUs: Date.now() * 1000, socket: decoy })}\n`);
      const mark = runCli(['mark', 'vol', 'decoy', '-a', app]);
      expect(mark.stderr).toBe('');
      expect(mark.status).toBe(0);
      expect(connections).toBe(0);
      expect(runCliJson<Timeline>(['timeline', 'vol', '-a', app]).bookmarks.map((b) => b.label)).toContain('decoy');
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 60_000);

  it('prune and rebuild-index are done by the service: exactly the thinning shown, and the index rebuilt', async () => {
    // Points to thin: more scans of vol, with a change between each; one is bookmarked.
    for (const i of [1, 2, 3, 4]) {
      sh('dd', ['if=/dev/urandom', `of=${join(tmp.dir, 'vol.img')}`, 'bs=64K', `seek=${100 + i}`, 'count=4', 'conv=notrunc', 'status=none']);
      expect(runCli(['capture', 'vol', '-a', app]).status).toBe(0);
    }
    const marked = runCliJson<Timeline>(['timeline', 'vol', '-a', app]).points.at(-4)!.seq;
    expect(runCli(['mark', 'vol', 'kept by its bookmark', '--at', String(marked), '-a', app]).status).toBe(0);
    const imageOf = (seq: number) => {
      const out = join(tmp.dir, `vol-${seq}.img`);
      expect(runCli(['image', 'vol', '--at', String(seq), '--out', out, '--force', '-a', app]).status).toBe(0);
      return sha256(readFileSync(out));
    };
    const before = runCliJson<Timeline>(['timeline', 'vol', '-a', app]);
    const latest = before.points.at(-1)!.seq;
    const shas = new Map([marked, latest].map((seq) => [seq, imageOf(seq)]));

    service = await startServiceProcess(['-a', app, '--socket', socket, '--split-dir', split]);
    const window = await client(socket);
    const jobs = watchJobs(window);
    try {
      // Three years on, the weekly level keeps one point a week: the newest, and the bookmarked one.
      const now = new Date(Date.now() + 3 * 365 * 86400_000).toISOString();
      type Pruned = { removedPoints: number; disks: Array<{ disk: string; removed: Array<{ seq: number }> }>; done: boolean; bytesRewritten?: number; segmentsAfter?: number };
      const preview = runCliJson<Pruned>(['prune', '--now', now, '--dry-run', '-a', app]);
      const going = preview.disks.find((d) => d.disk === 'vol')!.removed.map((r) => r.seq);
      expect(going.length).toBeGreaterThanOrEqual(2);
      expect(going).not.toContain(marked);

      // A plan other than the one the service makes is refused, and nothing goes.
      const wrong = await window.request('thinHistory', { nowUs: Date.parse(now) * 1000, throughSeq: latest, digest: '0'.repeat(64), confirm: true });
      expect(await jobs.finished(wrong.id)).toMatchObject({ kind: 'thin', phase: 'failed', error: { code: 'refused', message: expect.stringMatching(/^the history changed since the thinning was shown/) } });
      expect(runCliJson<Timeline>(['timeline', 'vol', '-a', app]).points.map((p) => p.seq)).toEqual(expect.arrayContaining(before.points.map((p) => p.seq)));

      const pruned = runCliJson<Pruned>(['prune', '--now', now, '--yes', '-a', app]);
      expect(pruned).toMatchObject({ done: true, removedPoints: preview.removedPoints, bytesRewritten: expect.any(Number), segmentsAfter: expect.any(Number) });
      // (The CLI ran synchronously: the window reads the job's events now.)
      await expect.poll(() => jobs.all.filter((j) => j.kind === 'thin' && j.phase === 'done').length).toBe(1);
      const after = runCliJson<Timeline>(['timeline', 'vol', '-a', app]).points.map((p) => p.seq);
      for (const seq of going) expect(after).not.toContain(seq);
      expect(after).toEqual(expect.arrayContaining([marked, latest]));
      for (const [seq, sha] of shas) expect(imageOf(seq), `point ${seq} after thinning`).toBe(sha);

      // passwd is not sent to the service (its key file must change too): it says what to do.
      const passwd = runCli(['passwd', '-a', app]);
      expect({ status: passwd.status, stderr: passwd.stderr }).toEqual({
        status: 1,
        stderr: "chronodisk: the running Chronodisk service is this appliance's writer: stop it (systemctl stop chronodisk), change the passphrase, put the new one in the key file the service starts with, then start it again\n",
      });

      // rebuild-index: the service's job, the same answers afterwards.
      const rebuilt = runCliJson<{ commits: number; writes: number; problems: unknown[]; seconds: number }>(['rebuild-index', '-a', app]);
      expect(rebuilt).toMatchObject({ problems: [], seconds: expect.any(Number) });
      expect(rebuilt.commits).toBeGreaterThanOrEqual(after.length);
      expect(runCliJson<Timeline>(['timeline', 'vol', '-a', app]).points.map((p) => p.seq)).toEqual(expect.arrayContaining(after));
      expect(runCli(['rebuild-index', '-a', app]).stdout).toMatch(/^Rebuilt the index: \d+ points, \d+ writes, in \d+\.\d s\.\n$/);
      for (const [seq, sha] of shas) expect(imageOf(seq), `point ${seq} after the rebuild`).toBe(sha);
    } finally {
      window.close();
    }
    expect(await service.stop('SIGTERM')).toBe(0);
    service = undefined;
  }, 180_000);
});
