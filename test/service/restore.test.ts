import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { ContractClient } from '../../shared/contract-client.js';
import type { Job } from '../../shared/contract.js';
import { attachLoop, makeImage, sh, tempDir, type Loop } from '../devices/loop-device.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { imageSha, journals, sha256Of, waitFor } from '../restore/restore-fixtures.js';
import { applianceOnLoop, client, collect, ext4Loop, MiB, nextEvent, rawRequest, runQuiet, sha256, startServiceProcess, watchJobs, writeFiles, type ServiceProcess } from './service-fixture.js';

/** Restores through a real service: file restores, copies onto other disks, in-place rollback — each checked by sha256. */
describe('restores through the service', () => {
  const tmp = tempDir('chronodisk-service-restore-');
  const socket = join(tmp.dir, 'service.sock');
  const restored = join(tmp.dir, 'restored');
  const live = join(tmp.dir, 'live');
  const contentA = randomBytes(3 * MiB);
  const contentB = randomBytes(3 * MiB);
  let appliance: ReturnType<typeof applianceOnLoop>;
  let vol: Loop;
  let target: Loop;
  let small: Loop;
  let service: ServiceProcess;
  let c: ContractClient;
  let seqA = 0;
  let seqB = 0;
  let folderId = '';

  let jobs: ReturnType<typeof watchJobs>;
  const finished = (id: string) => jobs.finished(id);

  beforeAll(async () => {
    mkdirSync(restored);
    mkdirSync(live);
    appliance = applianceOnLoop(tmp.dir);
    vol = ext4Loop(tmp.dir, 'vol', 128, { 'data/file.bin': contentA, 'data/note.txt': 'A\n' });
    target = attachLoop(makeImage(join(tmp.dir, 'target.img'), 160 * MiB));
    small = attachLoop(makeImage(join(tmp.dir, 'small.img'), 16 * MiB));
    expect(runCli(['protect', vol.device, '-a', appliance.app, '--name', 'vol']).status).toBe(0);
    seqA = runCliJson<{ seq: number }>(['capture', 'vol', '-a', appliance.app]).seq;
    writeFiles(vol.device, join(tmp.dir, 'vol.mnt'), { 'data/file.bin': contentB, 'data/note.txt': 'B\n' });
    seqB = runCliJson<{ seq: number }>(['capture', 'vol', '-a', appliance.app]).seq;
    service = await startServiceProcess(['-a', appliance.app, '--socket', socket, '--split-dir', join(tmp.dir, 'split')]);
    c = await client(socket);
    jobs = watchJobs(c);
    folderId = (await c.request('setSettings', { restoreFolders: [restored] })) && (await c.request('listRestoreDestinations', { disk: 'vol' }))[0]!.id;
  }, 120_000);

  afterAll(async () => {
    c?.close();
    await service?.stop();
    runQuiet('umount', [live]);
    appliance?.unmount();
    for (const l of [vol, target, small, appliance?.loop]) l?.detach();
    tmp.remove();
  });

  it('restoreFiles: a job with progress restores the file as it was at the point (sha256), and refuses to overwrite', async () => {
    await expect(c.request('restoreFiles', { disk: 'vol', at: String(seqA), paths: ['/data/file.bin'], destination: 'folder-nope', overwrite: false })).rejects.toMatchObject({
      code: 'not-found',
      message: expect.stringMatching(/not a restore destination/),
    });
    const progress = jobs.all;
    const job = await c.request('restoreFiles', { disk: 'vol', at: String(seqA), paths: ['/data/file.bin', '/data/note.txt'], destination: folderId, overwrite: false });
    expect(job).toMatchObject({ kind: 'restore-files', phase: 'queued', disk: 'vol' });
    const end = await finished(job.id);
    expect(end).toMatchObject({ phase: 'done', result: expect.stringMatching(/^Restored 2 files/) });
    expect(sha256(readFileSync(join(restored, 'file.bin')))).toBe(sha256(contentA));
    expect(readFileSync(join(restored, 'note.txt'), 'utf8')).toBe('A\n');
    const writes = progress.filter((j) => j.id === job.id && j.phase === 'write');
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.at(-1)).toMatchObject({ bytesDone: 3 * MiB + 2, bytesTotal: 3 * MiB + 2 });

    const again = await c.request('restoreFiles', { disk: 'vol', at: String(seqB), paths: ['/data/file.bin'], destination: folderId, overwrite: false });
    expect(await finished(again.id)).toMatchObject({ phase: 'failed', error: { code: 'exists', message: expect.stringMatching(/already exist/) } });
    expect(sha256(readFileSync(join(restored, 'file.bin')))).toBe(sha256(contentA));
  });

  it('restoreFiles to the original folder of the live, mounted filesystem; a symlinked folder on the way is refused', async () => {
    expect((await c.request('listRestoreDestinations', { disk: 'vol' })).map((d) => d.kind)).toEqual(['folder']);
    sh('mount', [vol.device, live]);
    try {
      const original = (await c.request('listRestoreDestinations', { disk: 'vol' })).find((d) => d.kind === 'original');
      expect(original).toMatchObject({ id: 'original', path: live });
      const job = await c.request('restoreFiles', { disk: 'vol', at: String(seqA), paths: ['/data/note.txt'], destination: 'original', overwrite: true });
      expect(await finished(job.id)).toMatchObject({ phase: 'done' });
      expect(readFileSync(join(live, 'data/note.txt'), 'utf8')).toBe('A\n');
      renameSync(join(live, 'data'), join(live, 'real-data'));
      symlinkSync(restored, join(live, 'data'));
      await expect(c.request('restoreFiles', { disk: 'vol', at: String(seqA), paths: ['/data/file.bin'], destination: 'original', overwrite: true })).rejects.toMatchObject({
        code: 'refused',
        message: expect.stringMatching(/symbolic link/),
      });
      unlinkSync(join(live, 'data'));
      renameSync(join(live, 'real-data'), join(live, 'data'));
      // Back as it was at B, so the rollback below starts from B.
      const back = await c.request('restoreFiles', { disk: 'vol', at: String(seqB), paths: ['/data/note.txt'], destination: 'original', overwrite: true });
      expect(await finished(back.id)).toMatchObject({ phase: 'done' });
    } finally {
      sh('umount', [live]);
    }
  });

  it('listRestoreTargets lists the disk itself and every drive with its problems', async () => {
    const targets = await c.request('listRestoreTargets', { disk: 'vol' });
    expect(targets[0]).toMatchObject({ device: vol.device, inPlace: true, usable: true, problems: [] });
    const of = (d: string) => targets.find((t) => t.device === d);
    expect(of(target.device)).toMatchObject({ inPlace: false, usable: true, problems: [] });
    expect(of(small.device)).toMatchObject({ usable: false, problems: [expect.stringMatching(/too small/)] });
    expect(of(appliance.loop.device)!.problems).toContainEqual(expect.stringMatching(/holds the appliance/));
    const system = targets.filter((t) => t.problems.some((p) => /system disk/.test(p)));
    expect(system.length).toBeGreaterThan(0);
    expect(system.every((t) => !t.usable)).toBe(true);
  });

  it('restoreDisk refuses without confirm: true, onto the system disk, onto a disk too small and onto an unlisted path — one line each', async () => {
    const unconfirmed = await rawRequest(socket, 'restoreDisk', { disk: 'vol', at: String(seqA), to: target.device });
    expect(unconfirmed).toMatchObject({ ok: false, error: { code: 'usage', message: expect.stringMatching(/confirm: true/) } });
    const sys = (await c.request('listDrives', {})).find((d) => d.isSystem)!;
    for (const [to, code, why] of [
      [sys.device, 'refused', /system disk/],
      [small.device, 'refused', /too small/],
      [join(tmp.dir, 'anywhere.img'), 'not-found', /not a restore target offered/],
    ] as const) {
      const r = await rawRequest(socket, 'restoreDisk', { disk: 'vol', at: String(seqA), to, confirm: true });
      expect(r).toMatchObject({ ok: false, error: { code, message: expect.stringMatching(why) } });
      expect(String((r.error as { message: string }).message)).not.toContain('\n');
    }
    expect((await c.request('listJobs', {})).filter((j) => j.kind === 'restore-disk')).toEqual([]);
  });

  it('restoreDisk onto another disk: cancelled part way it says so and keeps its journal; run again it finishes, equal to the point', async () => {
    const job = await c.request('restoreDisk', { disk: 'vol', at: String(seqB), to: target.device, confirm: true });
    await c.request('cancelJob', { id: job.id });
    const end = await finished(job.id);
    expect(end).toMatchObject({ phase: 'cancelled', result: expect.stringMatching(/partly written/) });
    expect(journals(appliance.app).map((j) => j.target)).toEqual([target.device]);
    const progress = jobs.all;
    const again = await c.request('restoreDisk', { disk: 'vol', at: String(seqB), to: target.device, confirm: true });
    const done = await finished(again.id);
    expect(done).toMatchObject({ phase: 'done', result: expect.stringMatching(/verified/) });
    // What it did, for programs: the same figures as chronodisk restore --json.
    expect(done.restore).toMatchObject({ kind: 'copy', disk: 'vol', seq: seqB, target: target.device, resumed: true, verified: true, sha256: imageSha(appliance.app, 'vol', seqB, tmp.dir) });
    expect(progress.some((j) => j.id === again.id && j.phase === 'verify')).toBe(true);
    expect(progress.some((j) => j.id === again.id && j.phase === 'write' && j.bytesPerSecond > 0)).toBe(true);
    expect(sha256Of(target.device, 128 * MiB)).toBe(imageSha(appliance.app, 'vol', seqB, tmp.dir));
    expect(journals(appliance.app)).toEqual([]);
  });

  it('restoreDisk in place rolls the disk back inside the service: the disk then equals the point', async () => {
    sh('mount', [vol.device, live]);
    try {
      const r = await rawRequest(socket, 'restoreDisk', { disk: 'vol', at: String(seqA), confirm: true });
      expect(r).toMatchObject({ ok: false, error: { code: 'refused', message: expect.stringMatching(/mounted at .*unmount it first/) } });
    } finally {
      sh('umount', [live]);
    }
    const pointA = imageSha(appliance.app, 'vol', seqA, tmp.dir);
    expect(sha256Of(vol.device)).not.toBe(pointA);
    const progress = jobs.all;
    const points = collect(c, 'pointCommitted');
    const bookmarks = nextEvent(c, 'bookmarksChanged', (b) => b.disk === 'vol');
    const job = await c.request('restoreDisk', { disk: 'vol', at: String(seqA), confirm: true });
    expect(job.title).toMatch(new RegExp(`^Roll vol back to point ${seqA}`));
    const end = await finished(job.id);
    expect(end, JSON.stringify(end)).toMatchObject({ phase: 'done', result: expect.stringMatching(/^Rolled vol back to point/) });
    expect(sha256Of(vol.device)).toBe(pointA);
    const phases = new Set(progress.filter((j) => j.id === job.id).map((j: Job) => j.phase));
    for (const p of ['prepare', 'write', 'verify', 'done']) expect(phases).toContain(p);
    await bookmarks;
    const restorePoint = points.find((p) => p.flags.includes('restore'));
    expect(restorePoint).toBeDefined();
    const tl = await c.request('timeline', { disk: 'vol' });
    expect(tl.points.at(-1)!.seq).toBe(restorePoint!.seq);
    expect(tl.bookmarks.map((b) => b.label)).toContainEqual(expect.stringMatching(/^before-restore-/));
    expect(imageSha(appliance.app, 'vol', restorePoint!.seq, tmp.dir)).toBe(pointA);
    // Capture of the disk goes on afterwards.
    await c.request('captureNow', { disk: 'vol' });
    await waitFor(() => jobs.all.some((j) => j.kind === 'scan' && j.finishedUs !== undefined), 60_000, 'the scan job');
    expect(jobs.all.find((j) => j.kind === 'scan' && j.finishedUs !== undefined)!.phase).toBe('done');
    sh('fsck.ext4', ['-fn', vol.device]);
  });
});
