import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, mkdirSync, openSync, readdirSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ContractClient } from '../../shared/contract-client.js';
import { FILE_HEADER_SIZE, RECORD_HEADER_SIZE, RecordType } from '../../electron/engine/format/constants.js';
import { tempDir, type Loop } from '../devices/loop-device.js';
import { breakIndexFile } from '../helpers/broken-index.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { applianceHash, applianceOnLoop, client, collect, ext4Loop, nextEvent, rawRequest, startServiceProcess, watchJobs, writeFiles, type ServiceProcess } from './service-fixture.js';

/** Every request channel answered by a real `chronodisk service` over its real unix socket, on real ext4 loop devices. */
describe('the service answers every request channel', () => {
  const tmp = tempDir('chronodisk-service-channels-');
  const socket = join(tmp.dir, 'service.sock');
  const restored = join(tmp.dir, 'restored');
  let appliance: ReturnType<typeof applianceOnLoop>;
  let vol: Loop;
  let spare: Loop;
  let service: ServiceProcess;
  let c: ContractClient;
  let seqA = 0;
  let seqB = 0;

  beforeAll(async () => {
    mkdirSync(restored);
    appliance = applianceOnLoop(tmp.dir);
    vol = ext4Loop(tmp.dir, 'vol', 64, { 'docs/a.txt': 'version A\n', 'keep.txt': 'kept\n' });
    spare = ext4Loop(tmp.dir, 'spare', 32);
    expect(runCli(['protect', vol.device, '-a', appliance.app, '--name', 'vol']).status).toBe(0);
    seqA = runCliJson<{ seq: number }>(['capture', 'vol', '-a', appliance.app]).seq;
    writeFiles(vol.device, join(tmp.dir, 'vol.mnt'), { 'docs/a.txt': 'version B, longer\n', 'docs/b.txt': 'new at B\n' });
    seqB = runCliJson<{ seq: number }>(['capture', 'vol', '-a', appliance.app]).seq;
    service = await startServiceProcess(['-a', appliance.app, '--socket', socket, '--split-dir', join(tmp.dir, 'split')]);
    c = await client(socket);
  }, 120_000);

  afterAll(async () => {
    c?.close();
    await service?.stop();
    appliance?.unmount();
    for (const l of [vol, spare, appliance?.loop]) l?.detach();
    tmp.remove();
  });

  it('status and listDisks: the writer, its disks and their history', async () => {
    const s = await c.request('status', {});
    expect(s).toMatchObject({ appliance: appliance.app, writer: true, encrypted: false });
    expect(s.space.totalBytes).toBeGreaterThan(s.space.freeBytes);
    expect(s.space.applianceBytes).toBeGreaterThan(0);
    const disks = await c.request('listDisks', {});
    expect(disks).toHaveLength(1);
    expect(disks[0]).toMatchObject({ name: 'vol', source: vol.device, mode: 'scan', size: 64 * 1024 * 1024, points: 2, latestSeq: seqB });
    expect(['idle', 'scanning']).toContain(disks[0]!.state);
  });

  it('listDrives: the protected disk, the appliance disk refused, the spare one offered', async () => {
    const drives = await c.request('listDrives', {});
    const byDevice = (d: string) => drives.find((x) => x.device === d);
    expect(byDevice(vol.device)).toMatchObject({ protectedAs: 'vol', refusal: expect.stringMatching(/already protected as vol/) });
    expect(byDevice(appliance.loop.device)).toMatchObject({ isAppliance: true, refusal: expect.stringMatching(/holds the appliance/) });
    expect(byDevice(spare.device)).toMatchObject({ isAppliance: false, isSystem: false, size: 32 * 1024 * 1024 });
    expect(byDevice(spare.device)!.refusal).toBeUndefined();
    expect(drives.some((d) => d.isSystem)).toBe(true);
  });

  it('timeline, activity and resolvePoint', async () => {
    const tl = await c.request('timeline', { disk: 'vol' });
    expect(tl.points.map((p) => p.seq)).toEqual([seqA, seqB]);
    expect(tl.total).toBe(2);
    expect(tl.points[0]!.flags).toContain('scan');
    const newest = await c.request('timeline', { disk: 'vol', limit: 1 });
    expect(newest.points.map((p) => p.seq)).toEqual([seqB]);
    expect(newest.total).toBe(2);
    const [a, b] = tl.points;
    const act = await c.request('activity', { disk: 'vol', fromUs: a!.timeUs, toUs: b!.timeUs + 1, buckets: 4 });
    expect(act).toHaveLength(4);
    expect(act.reduce((n, x) => n + x.writes, 0)).toBe(2);
    expect(act.reduce((n, x) => n + x.bytes, 0)).toBe(a!.bytes! + b!.bytes!);
    expect((await c.request('resolvePoint', { disk: 'vol', at: String(seqA) })).seq).toBe(seqA);
    expect((await c.request('resolvePoint', { disk: 'vol', at: 'now' })).seq).toBe(seqB);
    await expect(c.request('resolvePoint', { disk: 'vol', at: 'yesterday' })).rejects.toMatchObject({ code: 'usage', message: expect.stringMatching(/is not a point/) });
    await expect(c.request('timeline', { disk: 'nope' })).rejects.toMatchObject({ code: 'not-found', message: expect.stringMatching(/no disk named "nope".*vol/) });
  });

  it('addBookmark and removeBookmark, with bookmarksChanged', async () => {
    const changed = nextEvent(c, 'bookmarksChanged', (e) => e.disk === 'vol');
    const bm = await c.request('addBookmark', { disk: 'vol', at: String(seqA), label: 'before B' });
    expect(bm).toMatchObject({ disk: 'vol', seq: seqA, label: 'before B' });
    await changed;
    expect((await c.request('timeline', { disk: 'vol' })).bookmarks).toEqual([bm]);
    expect((await c.request('resolvePoint', { disk: 'vol', at: '@before B' })).seq).toBe(seqA);
    await expect(c.request('addBookmark', { disk: 'vol', at: 'now', label: 'before B' })).rejects.toMatchObject({ code: 'exists' });
    expect(await c.request('removeBookmark', { disk: 'vol', label: 'before B' })).toEqual({});
    await expect(c.request('removeBookmark', { disk: 'vol', label: 'before B' })).rejects.toMatchObject({ code: 'not-found' });
  });

  it('listVolumes, listFiles at an old point (the old listing), fileVersions', async () => {
    expect(await c.request('listVolumes', { disk: 'vol', at: String(seqA) })).toEqual([
      { address: 'vol', partition: 0, fsType: 'ext4', start: 0, size: 64 * 1024 * 1024, browsable: true },
    ]);
    const atA = await c.request('listFiles', { disk: 'vol', at: String(seqA), path: '/docs' });
    expect(atA.point.seq).toBe(seqA);
    expect(atA.entries.map((e) => [e.name, e.type, e.size])).toEqual([['a.txt', 'file', 10]]);
    const atB = await c.request('listFiles', { disk: 'vol', at: 'now', path: '/docs' });
    expect(atB.entries.map((e) => [e.name, e.size])).toEqual([
      ['a.txt', 18],
      ['b.txt', 9],
    ]);
    const root = await c.request('listFiles', { disk: 'vol', at: String(seqA), path: '/' });
    expect(root.entries.map((e) => e.name)).toEqual(['docs', 'keep.txt', 'lost+found']);
    await expect(c.request('listFiles', { disk: 'vol', at: String(seqA), path: '/docs/b.txt' })).rejects.toMatchObject({ code: 'not-found' });
    const versions = await c.request('fileVersions', { disk: 'vol', path: '/docs/a.txt' });
    expect(versions.map((v) => [v.seq, v.change, v.size])).toEqual([
      [seqA, 'added', 10],
      [seqB, 'changed', 18],
    ]);
  });

  it('getSettings, setSettings (each value checked) and listRestoreDestinations', async () => {
    const s = await c.request('getSettings', {});
    expect(s).toMatchObject({ scanIntervalSec: 300, rateLimit: 0, restoreFolders: [], retention: { weeklyUs: null } });
    await expect(c.request('setSettings', { restoreFolders: [join(tmp.dir, 'missing')] })).rejects.toMatchObject({ code: 'not-found' });
    await expect(c.request('setSettings', { restoreFolders: [appliance.app] })).rejects.toMatchObject({ code: 'refused', message: expect.stringMatching(/appliance/) });
    await expect(c.request('setSettings', { restoreFolders: ['relative/dir'] })).rejects.toMatchObject({ code: 'usage' });
    expect((await c.request('getSettings', {})).restoreFolders).toEqual([]);
    const next = await c.request('setSettings', { restoreFolders: [restored], scanIntervalSec: 600, retention: { ...s.retention, keepAllUs: 3600e6 } });
    expect(next).toMatchObject({ scanIntervalSec: 600, restoreFolders: [restored], retention: { keepAllUs: 3600e6 } });
    // The catalog holds them: a reader sees the same.
    expect(runCliJson<{ keepAll: string }>(['retention', 'vol', '-a', appliance.app]).keepAll).toBe('1h');
    const dests = await c.request('listRestoreDestinations', { disk: 'vol' });
    expect(dests).toEqual([{ id: expect.stringMatching(/^folder-/), path: restored, label: 'restored', kind: 'folder' }]);
  });

  it('captureNow runs a scan job and pointCommitted arrives when it commits', async () => {
    writeFiles(vol.device, join(tmp.dir, 'vol.mnt'), { 'docs/c.txt': 'captured now\n' });
    const jobs = collect(c, 'jobProgress');
    const point = nextEvent(c, 'pointCommitted', (p) => p.disk === 'vol' && p.seq > seqB);
    const finished = nextEvent(c, 'jobProgress', (j) => j.kind === 'scan' && j.finishedUs !== undefined);
    const started = await c.request('captureNow', { disk: 'vol', label: 'asked for' });
    expect(started).toMatchObject({ kind: 'scan', disk: 'vol', phase: 'queued' });
    const p = await point;
    expect(p.label).toBe('asked for');
    expect(p.flags).toContain('scan');
    const listing = await c.request('listFiles', { disk: 'vol', at: String(p.seq), path: '/docs' });
    expect(listing.entries.map((e) => e.name)).toContain('c.txt');
    expect((await finished).phase).toBe('done');
    const done = (await c.request('listJobs', {})).find((j) => j.kind === 'scan' && j.disk === 'vol');
    expect(done).toMatchObject({ id: started.id, phase: 'done', result: expect.stringMatching(new RegExp(`^Point ${p.seq} of vol: read 64\\.0 MiB`)) });
    // What it made, for programs: the point, and the bytes it read and stored.
    expect(done!.scan).toMatchObject({ point: { seq: p.seq, disk: 'vol', label: 'asked for' }, bytesRead: 64 * 1024 * 1024, bytesStored: expect.any(Number), frozen: expect.any(Boolean) });
    expect(done!.scan!.bytesChanged).toBeGreaterThan(0);
    expect(jobs.some((j) => j.phase === 'read' && j.bytesTotal === 64 * 1024 * 1024)).toBe(true);
    await expect(c.request('captureNow', { disk: 'nope' })).rejects.toMatchObject({ code: 'not-found' });
    await expect(c.request('captureNow', { disk: 'vol', label: 'two\nlines' })).rejects.toMatchObject({ code: 'usage', message: expect.stringMatching(/one line of text/) });
  });

  it('pauseCapture and resumeCapture, with captureStatus', async () => {
    const paused = nextEvent(c, 'captureStatus', (s) => s.disk === 'vol' && s.state === 'paused');
    expect(await c.request('pauseCapture', {})).toEqual({});
    expect(await paused).toMatchObject({ message: 'paused by you' });
    expect((await c.request('status', {})).paused).toBe('paused by you');
    expect((await c.request('listDisks', {}))[0]!.state).toBe('paused');
    const resumed = nextEvent(c, 'captureStatus', (s) => s.disk === 'vol' && s.state !== 'paused');
    await c.request('resumeCapture', {});
    expect((await resumed).state).toMatch(/idle|scanning/);
    expect((await c.request('status', {})).paused).toBeUndefined();
  });

  it('protectDisk refuses the appliance disk and leaves the appliance unchanged; protects an offered drive; unprotectDisk needs confirm', async () => {
    await c.request('pauseCapture', {});
    await new Promise((r) => setTimeout(r, 300));
    const before = applianceHash(appliance.app);
    await expect(c.request('protectDisk', { device: appliance.loop.device, name: 'self', mode: 'scan' })).rejects.toMatchObject({
      code: 'refused',
      message: expect.stringMatching(/holds the appliance/),
    });
    await expect(c.request('protectDisk', { device: join(tmp.dir, 'vol.img'), name: 'file', mode: 'scan' })).rejects.toMatchObject({ code: 'not-found', message: expect.stringMatching(/not a drive this machine offers/) });
    await expect(c.request('protectDisk', { device: vol.device, name: 'again', mode: 'scan' })).rejects.toMatchObject({ code: 'refused', message: expect.stringMatching(/already protected as vol/) });
    expect(applianceHash(appliance.app)).toBe(before);
    await c.request('resumeCapture', {});

    const changed = nextEvent(c, 'disksChanged');
    const firstPoint = nextEvent(c, 'pointCommitted', (p) => p.disk === 'spare');
    const d = await c.request('protectDisk', { device: spare.device, name: 'spare', mode: 'scan' });
    expect(d).toMatchObject({ name: 'spare', source: spare.device, mode: 'scan', size: 32 * 1024 * 1024 });
    await changed;
    expect((await firstPoint).flags).toContain('scan');
    expect((await c.request('listDisks', {})).map((x) => x.name)).toEqual(['vol', 'spare']);

    // Sent raw: the service itself refuses it, not only the client's schema check.
    const unconfirmed = await rawRequest(socket, 'unprotectDisk', { disk: 'spare', deleteHistory: false });
    expect(unconfirmed).toMatchObject({ ok: false, error: { code: 'usage', message: expect.stringMatching(/confirm: true/) } });
    expect((await c.request('listDisks', {})).map((x) => x.name)).toEqual(['vol', 'spare']);
    const gone = nextEvent(c, 'disksChanged');
    expect(await c.request('unprotectDisk', { disk: 'spare', deleteHistory: true, confirm: true })).toEqual({});
    await gone;
    expect((await c.request('listDisks', {})).map((x) => x.name)).toEqual(['vol']);
  });

  it('listJobs and cancelJob', async () => {
    const jobs = await c.request('listJobs', {});
    expect(jobs.every((j) => j.finishedUs !== undefined && j.phase === 'done')).toBe(true);
    expect(await c.request('cancelJob', { id: jobs[0]!.id })).toEqual({}); // finished: left as it is
    await expect(c.request('cancelJob', { id: 'job-nope' })).rejects.toMatchObject({ code: 'not-found' });
  });

  it('checkAppliance: a job that finds no damage, then names a flipped byte (put back afterwards)', async () => {
    const jobs = watchJobs(c);
    const clean = await jobs.finished((await c.request('checkAppliance', { readData: true })).id);
    expect(clean).toMatchObject({ kind: 'check', phase: 'done', result: expect.stringMatching(/^No damage found: \d+ segments?, \d+ commits?, .* verified$/) });

    // One byte inside the payload of the write record nearest the middle of the largest
    // segment (docs/FORMAT.md: 64-byte file header, then records of a 64-byte header — type
    // at 4, stored length at 12 — and their stored bytes): its checksum then fails.
    const dir = join(appliance.app, 'segments');
    const [largest] = readdirSync(dir).map((f) => join(dir, f)).sort((a, b) => statSync(b).size - statSync(a).size);
    const size = statSync(largest!).size;
    const fd = openSync(largest!, 'r+');
    const header = Buffer.alloc(RECORD_HEADER_SIZE);
    let at = FILE_HEADER_SIZE;
    for (;;) {
      expect(readSync(fd, header, 0, RECORD_HEADER_SIZE, at), 'a write record with a payload past the middle').toBe(RECORD_HEADER_SIZE);
      const stored = header.readUInt32LE(12);
      if (header[4] === RecordType.Write && stored > 0 && at >= size / 2) {
        at += RECORD_HEADER_SIZE + Math.floor(stored / 2);
        break;
      }
      at += RECORD_HEADER_SIZE + stored;
    }
    const byte = Buffer.alloc(1);
    try {
      readSync(fd, byte, 0, 1, at);
      writeSync(fd, Buffer.from([byte[0]! ^ 0x5a]), 0, 1, at);
      const damaged = await jobs.finished((await c.request('checkAppliance', { readData: true })).id);
      expect(damaged).toMatchObject({ kind: 'check', phase: 'failed', error: { code: 'damaged', message: expect.stringMatching(/^the appliance has a damaged place: segment \d+ at byte \d+: /) } });
    } finally {
      writeSync(fd, byte, 0, 1, at);
      closeSync(fd);
    }
    await expect(rawRequest(socket, 'checkAppliance', {})).resolves.toMatchObject({ ok: false, error: { code: 'usage' } });
  });

  it('rebuildIndex: a read through an index that disagrees with the segments names the remedy; the job repairs it', async () => {
    const jobs = watchJobs(c);
    const points = (await c.request('timeline', { disk: 'vol' })).points;
    const latest = String(points[points.length - 1]!.seq);
    const truth = applianceHash(appliance.app);
    // Another connection to the service's index file breaks every extent, as a bug might.
    breakIndexFile(appliance.app);
    await expect(c.request('listVolumes', { disk: 'vol', at: latest })).rejects.toMatchObject({ code: 'damaged', remedy: 'rebuild-index', message: expect.stringMatching(/^the index does not match segment \d+/) });
    const rebuilt = await jobs.finished((await c.request('rebuildIndex', {})).id);
    expect(rebuilt).toMatchObject({ kind: 'rebuild-index', phase: 'done', result: expect.stringMatching(/^Index rebuilt from the segments: \d+ commits, \d+ writes$/) });
    await expect(c.request('listVolumes', { disk: 'vol', at: latest })).resolves.toHaveLength(1);
    const docs = await c.request('listFiles', { disk: 'vol', at: latest, path: '/docs' });
    expect(docs.entries.map((e) => [e.name, e.size])).toEqual(
      expect.arrayContaining([
        ['a.txt', 18],
        ['b.txt', 9],
      ]),
    );
    expect(applianceHash(appliance.app), 'segments and catalog').toBe(truth);
  });
});
