import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { IndexDb } from '../../electron/engine/index/index-db.js';
import { segmentPath } from '../../electron/engine/store/segment-file.js';
import { checkAppliance } from '../../electron/engine/check.js';
import type { DiskRecord } from '../../electron/engine/store/catalog-state.js';
import { applyToShadow, crashDisks, MARKER_SIZE, MARKER_SLOTS, markerBytes, markerOffset, planBatch } from '../helpers/crash-plan.js';
import { repoRoot, runCli } from '../helpers/cli.js';
import { imageHash, prng, sha256 } from '../helpers/history.js';

/**
 * A writer child commits planned batches with durable acks and is SIGKILLed at random
 * moments, round after round on the same appliance. After each kill the appliance must
 * open, pass `check --read-data`, hold every acknowledged commit with exactly its bytes,
 * and show no half batch. Each point carries its batch's label, so the test regenerates
 * every committed batch — acknowledged or not — and checks the whole history.
 */

const ROUNDS = Number(process.env.CRASH_ROUNDS) || 50;
const writerJs = join(repoRoot, 'dist/test/helpers/crash-writer.js');
const root = mkdtempSync(join(tmpdir(), 'chronodisk-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Ack {
  seq: number;
  disk: string;
  label: string;
}

interface RoundResult {
  acks: Ack[];
  sawReady: boolean;
}

type KillAfter = 'spawn' | 'ready' | 'first ack';

/** Runs the writer child and SIGKILLs it `delayMs` after it spawned, was ready, or acknowledged its first commit. */
function crashRound(dir: string, round: number, segmentSize: number, delayMs: number, after: KillAfter): Promise<RoundResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writerJs, dir, String(round)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CHRONODISK_CRASH_SEGMENT_SIZE: String(segmentSize) },
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    const kill = () => child.kill('SIGKILL');
    if (after === 'spawn') timer = setTimeout(kill, delayMs);
    const trigger = after === 'ready' ? 'ready\n' : '\nack ';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (!timer && after !== 'spawn' && out.includes(trigger)) timer = setTimeout(kill, delayMs);
    });
    child.stderr.on('data', (chunk: string) => (err += chunk));
    // A child that never gets ready in time is killed too (a safety net, not the test).
    const deadline = setTimeout(kill, 20_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(deadline);
      if (signal !== 'SIGKILL') return reject(new Error(`crash-writer ended by itself (code ${code}): ${err}`));
      // Only whole lines count: a line is printed after its commit was acknowledged.
      const lines = out.split('\n').slice(0, -1);
      const acks = lines
        .filter((l) => l.startsWith('ack '))
        .map((l) => {
          const [, seq, disk, label] = l.split(' ');
          return { seq: Number(seq), disk: disk!, label: label! };
        });
      resolve({ acks, sawReady: lines[0] === 'ready' });
    });
  });
}

interface DiskShadow {
  disk: DiskRecord;
  shadow: Buffer;
  /** Points verified so far, in order. */
  points: number[];
}

describe('crash: a writer SIGKILLed at random moments', () => {
  it(`loses no acknowledged commit and shows no half batch over ${ROUNDS} rounds`, async () => {
    const dir = join(root, 'appliance');
    await Appliance.init(dir);
    const setup = await Appliance.open(dir, { writable: true });
    for (const d of crashDisks) setup.addDisk({ name: d.name, source: '/dev/null', size: d.size, mode: 'scan', blockSize: 4096, identity: {} });
    setup.close();

    const rand = prng(20261125);
    const shadows = new Map<string, DiskShadow>();
    const samples: Array<{ disk: string; seq: number; hash: string }> = [];
    const labelsSeen = new Set<string>();
    let totalAcks = 0;
    let killedBeforeReady = 0;

    for (let round = 1; round <= ROUNDS; round++) {
      // Small segments make rotation (seal, catalog records, new file) frequent, so kills land in it.
      const segmentSize = [64 * 1024, 512 * 1024, 8 * 1024 * 1024][Math.floor(rand() * 3)]!;
      // Mostly while commits flow; sometimes early, while the writer opens and recovers.
      const u = rand();
      const after: KillAfter = u < 0.15 ? 'spawn' : u < 0.35 ? 'ready' : 'first ack';
      const delay = 20 + Math.floor(rand() * (after === 'spawn' ? 280 : 380));
      const { acks, sawReady } = await crashRound(dir, round, segmentSize, delay, after);
      if (!sawReady) killedBeforeReady++;
      totalAcks += acks.length;
      const ctx = `round ${round} (segments of ${segmentSize} bytes, killed ${delay} ms after ${after})`;

      // The writer's next start recovers (cuts a torn tail); then the whole appliance verifies.
      const recover = await Appliance.open(dir, { writable: true });
      recover.close();
      const app = await Appliance.open(dir);
      try {
        // The CLI's check every few rounds (a process start is slow on a busy machine), the
        // same engine check in-process the rest of the time.
        if (round % 5 === 0 || round === ROUNDS) {
          const check = runCli(['check', '-a', dir, '--read-data']);
          expect(check.status, `${ctx}: check --read-data\n${check.stdout}${check.stderr}`).toBe(0);
        } else {
          const report = checkAppliance(app, { readData: true });
          expect(report.problems, `${ctx}: check --read-data`).toEqual([]);
        }
        for (const d of app.disks()) {
          let s = shadows.get(d.name);
          if (!s) shadows.set(d.name, (s = { disk: d, shadow: Buffer.alloc(d.size), points: [] }));
          const points = app.timeline.points(d);
          // Points never disappear: the history seen so far is a prefix of today's.
          expect(points.slice(0, s.points.length).map((p) => p.seq), `${ctx}: earlier points of ${d.name}`).toEqual(s.points);
          const fresh = points.slice(s.points.length);
          const keep = new Set([Math.floor(rand() * fresh.length), Math.floor(rand() * fresh.length)]);
          for (const [i, p] of fresh.entries()) {
            // Every point is a batch the writer planned, committed once: regenerate it from its label.
            expect(p.label, `${ctx}: label of point ${p.seq}`).toMatch(/^r\d+b\d+$/);
            expect(labelsSeen.has(p.label!), `${ctx}: label ${p.label} committed twice`).toBe(false);
            labelsSeen.add(p.label!);
            applyToShadow(s.shadow, planBatch(p.label!, d.size));
            // All four markers of a point name its batch: a half-visible batch would mix them.
            const img = app.image(d, p.seq);
            for (let slot = 0; slot < MARKER_SLOTS; slot++) {
              const m = img.readSync(markerOffset(d.size, slot), MARKER_SIZE);
              expect(m.toString('latin1'), `${ctx}: marker ${slot} of ${d.name} at point ${p.seq}`).toBe(markerBytes(p.label!).toString('latin1'));
            }
            if (keep.has(i)) samples.push({ disk: d.name, seq: p.seq, hash: sha256(s.shadow) });
            s.points.push(p.seq);
          }
          // The latest point of each disk is the whole shadow, byte for byte.
          if (s.points.length) expect(imageHash(app, d, s.points[s.points.length - 1]!), `${ctx}: latest image of ${d.name}`).toBe(sha256(s.shadow));
        }
        // Every acknowledged commit is a point of its disk, carrying its batch.
        for (const a of acks) {
          const p = app.timeline.pointAt(app.disk(a.disk), a.seq);
          expect(p?.label, `${ctx}: acknowledged commit ${a.seq} (${a.label}) of ${a.disk}`).toBe(a.label);
        }
        // Earlier points still read as they were (a sample, old and new).
        for (let k = 0; k < 2 && samples.length; k++) {
          const sm = samples[Math.floor(rand() * samples.length)]!;
          expect(imageHash(app, app.disk(sm.disk), sm.seq), `${ctx}: sampled point ${sm.seq} of ${sm.disk}`).toBe(sm.hash);
        }
      } finally {
        app.close();
      }
    }
    // The test must have exercised something: many commits acknowledged.
    expect(totalAcks).toBeGreaterThan(ROUNDS);
    expect(labelsSeen.size).toBeGreaterThanOrEqual(totalAcks);
    console.log(`crash test: ${ROUNDS} rounds, ${totalAcks} acknowledged commits, ${labelsSeen.size} points, ${killedBeforeReady} kills before ready`);
  }, 300_000);

  it('finishes a rotation a crash cut between the seal record and its catalog record', async () => {
    const dir = join(root, 'seal');
    await Appliance.init(dir);
    const KiB = 1024;
    const random = (n: number, seed: number) => {
      const r = prng(seed);
      return Buffer.from(Array.from({ length: n }, () => (r() * 256) | 0));
    };
    let app = await Appliance.open(dir, { writable: true });
    const disk = app.addDisk({ name: 'd', source: '/dev/null', size: 1024 * KiB, mode: 'scan', blockSize: 4096, identity: {} });
    const first = random(100 * KiB, 1); // segment 1 is past the 64 KiB target of the opens below
    let b = app.beginBatch(disk);
    b.write(0, first);
    const p1 = await b.commit();
    app.close();

    // The next write rotates: seal record (durable), catalog seal, segment 2, catalog open.
    // Cut the catalog and segment 2 back to the instant after the seal record was durable.
    const catalogSize = statSync(join(dir, 'catalog')).size;
    app = await Appliance.open(dir, { writable: true, segmentTargetSize: 64 * KiB });
    b = app.beginBatch(app.disk('d'));
    b.write(0, Buffer.alloc(10));
    b.abort();
    app.close();
    truncateSync(join(dir, 'catalog'), catalogSize);
    rmSync(segmentPath(dir, 2));

    // Reopened with the default (larger) target: nothing forces a new rotation here.
    app = await Appliance.open(dir, { writable: true });
    const second = random(8 * KiB, 2);
    b = app.beginBatch(app.disk('d'));
    b.write(4096, second);
    const p2 = await b.commit(); // acknowledged: it must survive everything below
    app.close();

    const check = runCli(['check', '-a', dir, '--read-data']);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    IndexDb.remove(dir); // the segments and catalog alone must still hold both points
    app = await Appliance.open(dir);
    try {
      const d = app.disk('d');
      expect(app.timeline.points(d).map((p) => p.seq)).toEqual([p1.seq, p2.seq]);
      const expected = Buffer.alloc(d.size);
      first.copy(expected, 0);
      second.copy(expected, 4096);
      expect(imageHash(app, d, p2.seq)).toBe(sha256(expected));
    } finally {
      app.close();
    }
  });
});
