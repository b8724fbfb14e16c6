import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContractClient } from '../../shared/contract-client.js';
import { sh, tempDir, type Loop } from '../devices/loop-device.js';
import { runCli } from '../helpers/cli.js';
import { imageSha, sha256Of, waitFor } from '../restore/restore-fixtures.js';
import { applianceOnLoop, client, collect, ext4Loop, MiB, runQuiet, startServiceProcess, watchJobs, type ServiceProcess } from './service-fixture.js';

/**
 * A track-mode disk rolled back inside the service: its tracker is stopped after
 * committing what it saw (so no scan pass is needed), the rollback's own writes are not
 * captured as a new point, and tracking starts again afterwards.
 */
describe('rolling back a track-mode disk through the service', () => {
  const tmp = tempDir('chronodisk-service-track-');
  const socket = join(tmp.dir, 'service.sock');
  const mnt = join(tmp.dir, 'vol.mnt');
  let appliance: ReturnType<typeof applianceOnLoop>;
  let vol: Loop;
  let service: ServiceProcess;
  let c: ContractClient;

  beforeAll(async () => {
    appliance = applianceOnLoop(tmp.dir);
    vol = ext4Loop(tmp.dir, 'vol', 64, { 'notes.txt': 'first\n' });
    expect(runCli(['protect', vol.device, '-a', appliance.app, '--name', 'vol', '--mode', 'track']).status).toBe(0);
    service = await startServiceProcess(['-a', appliance.app, '--socket', socket, '--split-dir', join(tmp.dir, 'split')]);
    c = await client(socket);
  }, 120_000);

  afterAll(async () => {
    c?.close();
    await service?.stop();
    runQuiet('umount', [mnt]);
    appliance?.unmount();
    for (const l of [vol, appliance?.loop]) l?.detach();
    tmp.remove();
  });

  it('tracks writes as points, rolls back to the first point equal to it, and tracks again', async () => {
    const tl0 = await c.request('timeline', { disk: 'vol' });
    expect(tl0.points.length).toBeGreaterThanOrEqual(1);
    const first = tl0.points.at(-1)!;
    expect((await c.request('listDisks', {}))[0]!.state).toBe('tracking');
    const points = collect(c, 'pointCommitted');
    sh('mount', [vol.device, mnt]);
    writeFileSync(join(mnt, 'later.bin'), Buffer.alloc(4 * MiB, 7));
    sh('sync', []);
    sh('umount', [mnt]);
    await waitFor(() => points.some((p) => p.disk === 'vol' && p.seq > first.seq), 20_000, 'a track point');
    await new Promise((r) => setTimeout(r, 1500)); // let the unmount's last writes be tracked
    const firstSha = imageSha(appliance.app, 'vol', first.seq, tmp.dir);
    expect(sha256Of(vol.device)).not.toBe(firstSha);

    const jobs = watchJobs(c);
    const before = points.length;
    const job = await c.request('restoreDisk', { disk: 'vol', at: String(first.seq), confirm: true });
    const end = await jobs.finished(job.id);
    expect(end, JSON.stringify(end)).toMatchObject({ phase: 'done', result: expect.stringMatching(/^Rolled vol back/) });
    // The tracker had everything: no catch-up scan was needed.
    expect(jobs.all.filter((j) => j.id === job.id).map((j) => j.phase)).not.toContain('prepare');
    expect(sha256Of(vol.device)).toBe(firstSha);
    const restorePoint = points.slice(before).find((p) => p.flags.includes('restore'))!;
    expect(restorePoint).toBeDefined();
    expect(imageSha(appliance.app, 'vol', restorePoint.seq, tmp.dir)).toBe(firstSha);

    // Tracking resumes: a new write becomes a point again.
    await new Promise((r) => setTimeout(r, 2000));
    expect((await c.request('listDisks', {}))[0]!.state).toBe('tracking');
    const after = points.length;
    sh('mount', [vol.device, mnt]);
    writeFileSync(join(mnt, 'again.txt'), 'after the rollback\n');
    sh('sync', []);
    sh('umount', [mnt]);
    let names: string[] = [];
    const until = Date.now() + 20_000;
    while (!names.includes('again.txt') && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 300));
      if (!points.slice(after).some((p) => p.disk === 'vol')) continue;
      const latest = (await c.request('timeline', { disk: 'vol' })).points.at(-1)!;
      names = (await c.request('listFiles', { disk: 'vol', at: String(latest.seq), path: '/' })).entries.map((e) => e.name);
    }
    expect(names).toContain('again.txt');
    expect(names).not.toContain('later.bin');
  });
});
