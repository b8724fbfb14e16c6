import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ContractClient } from '../../shared/contract-client.js';
import { attachLoop, makeImage, tempDir, type Loop } from '../devices/loop-device.js';
import { cliPath, runCli, runCliJson } from '../helpers/cli.js';
import { imageSha, journals, sha256Of, waitFor } from '../restore/restore-fixtures.js';
import { applianceOnLoop, client, ext4Loop, MiB, rawRequest, startServiceProcess, watchJobs, writeFiles, type ServiceProcess } from './service-fixture.js';

/**
 * Restores interrupted before the service started (a `chronodisk restore` SIGKILLed once
 * its journal is on the appliance) are listed as 'interrupted' jobs and finish through
 * resumeJob — onto another disk and in place — each checked by sha256 against the point;
 * or are forgotten through discardJob, the target's bytes unchanged.
 */
describe('interrupted restores through the service', () => {
  const tmp = tempDir('chronodisk-service-interrupted-');
  const socket = join(tmp.dir, 'service.sock');
  let appliance: ReturnType<typeof applianceOnLoop>;
  let vol: Loop;
  let target: Loop;
  let service: ServiceProcess | undefined;
  let c: ContractClient | undefined;
  let seqA = 0;

  /** Runs `chronodisk restore ARGS` slowly and SIGKILLs it once its journal names `target`. */
  async function killMidRestore(args: string[], targetPath: string): Promise<void> {
    const child = spawn(process.execPath, [cliPath, 'restore', ...args, '--yes', '--rate-limit', '2M', '-a', appliance.app], { stdio: 'ignore' });
    try {
      await waitFor(() => journals(appliance.app).some((j) => j.target === targetPath && j.watermark > 0), 60_000, `a journal for ${targetPath} with bytes written`);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  }

  beforeAll(() => {
    appliance = applianceOnLoop(tmp.dir);
    vol = ext4Loop(tmp.dir, 'vol', 64, { 'data/file.bin': randomBytes(6 * MiB), 'data/note.txt': 'A\n' });
    target = attachLoop(makeImage(join(tmp.dir, 'target.img'), 80 * MiB));
    expect(runCli(['protect', vol.device, '-a', appliance.app, '--name', 'vol']).status).toBe(0);
    seqA = runCliJson<{ seq: number }>(['capture', 'vol', '-a', appliance.app]).seq;
    writeFiles(vol.device, join(tmp.dir, 'vol.mnt'), { 'data/file.bin': randomBytes(6 * MiB), 'data/note.txt': 'B\n' });
    expect(runCliJson<{ seq: number }>(['capture', 'vol', '-a', appliance.app]).seq).toBeGreaterThan(seqA);
  }, 120_000);

  afterAll(async () => {
    c?.close();
    await service?.stop();
    appliance?.unmount();
    for (const l of [vol, target, appliance?.loop]) l?.detach();
    tmp.remove();
  });

  it('a copy onto another disk, killed part way, is listed after the service starts and finishes on resume', async () => {
    await killMidRestore(['vol', '--at', String(seqA), '--to', target.device], target.device);
    service = await startServiceProcess(['-a', appliance.app, '--socket', socket, '--split-dir', join(tmp.dir, 'split')]);
    c = await client(socket);
    const jobs = watchJobs(c);
    const listed = (await c.request('listJobs', {})).filter((j) => j.phase === 'interrupted');
    expect(listed).toHaveLength(1);
    const [interrupted] = listed;
    expect(interrupted).toMatchObject({ kind: 'restore-disk', disk: 'vol', title: `Restore vol at point ${seqA} onto ${target.device}`, result: expect.stringMatching(/partly written until the restore is resumed/) });
    expect(interrupted!.bytesDone).toBeGreaterThan(0);
    expect(interrupted!.bytesDone).toBeLessThan(interrupted!.bytesTotal);

    // Not running, so not cancellable; and resuming writes to a disk, so it needs confirm.
    await expect(c.request('cancelJob', { id: interrupted!.id })).rejects.toMatchObject({ code: 'refused', message: expect.stringMatching(/resume it to finish/) });
    expect(await rawRequest(socket, 'resumeJob', { id: interrupted!.id })).toMatchObject({ ok: false, error: { code: 'usage', message: expect.stringMatching(/confirm: true/) } });
    await expect(c.request('resumeJob', { id: 'interrupted-nope', confirm: true })).rejects.toMatchObject({ code: 'not-found' });

    const job = await c.request('resumeJob', { id: interrupted!.id, confirm: true });
    expect(await jobs.finished(job.id)).toMatchObject({ phase: 'done', result: expect.stringMatching(/finishing an interrupted restore.*verified/) });
    expect(sha256Of(target.device, 64 * MiB)).toBe(imageSha(appliance.app, 'vol', seqA, tmp.dir));
    expect(journals(appliance.app)).toEqual([]);
    expect((await c.request('listJobs', {})).filter((j) => j.phase === 'interrupted')).toEqual([]);
  });

  it('an in-place rollback, killed part way, finishes on resume: the disk equals the point', async () => {
    c?.close();
    await service?.stop();
    await killMidRestore(['vol', '--at', String(seqA)], vol.device);
    service = await startServiceProcess(['-a', appliance.app, '--socket', socket, '--split-dir', join(tmp.dir, 'split')]);
    c = await client(socket);
    const jobs = watchJobs(c);
    const [interrupted] = (await c.request('listJobs', {})).filter((j) => j.phase === 'interrupted');
    expect(interrupted).toMatchObject({ disk: 'vol', title: `Roll vol back to point ${seqA}` });
    const job = await c.request('resumeJob', { id: interrupted!.id, confirm: true });
    expect(await jobs.finished(job.id)).toMatchObject({ phase: 'done', result: expect.stringMatching(/^Rolled vol back to point .*finishing an interrupted restore/) });
    expect(sha256Of(vol.device)).toBe(imageSha(appliance.app, 'vol', seqA, tmp.dir));
    expect(journals(appliance.app)).toEqual([]);
  });

  it('a copy killed part way can be discarded instead: the journal goes, the target keeps what was written', async () => {
    // `chronodisk restore --to` reads beside the service's writer.
    await killMidRestore(['vol', '--at', String(seqA), '--to', target.device], target.device);
    const [interrupted] = (await c!.request('listJobs', {})).filter((j) => j.phase === 'interrupted');
    expect(interrupted).toMatchObject({ title: `Restore vol at point ${seqA} onto ${target.device}` });
    const before = sha256Of(target.device);

    // Leaving a disk partly written for good needs confirm; an unknown id is named.
    expect(await rawRequest(socket, 'discardJob', { id: interrupted!.id })).toMatchObject({ ok: false, error: { code: 'usage', message: expect.stringMatching(/confirm: true/) } });
    await expect(c!.request('discardJob', { id: 'interrupted-nope', confirm: true })).rejects.toMatchObject({ code: 'not-found' });
    expect(journals(appliance.app)).toHaveLength(1);

    expect(await c!.request('discardJob', { id: interrupted!.id, confirm: true })).toEqual({});
    expect(journals(appliance.app)).toEqual([]);
    expect((await c!.request('listJobs', {})).filter((j) => j.phase === 'interrupted')).toEqual([]);
    expect(sha256Of(target.device)).toBe(before);
  });
});
