/**
 * The slider's point resolution over a disk of 100,000 points, against an in-memory
 * timeline that answers as the contract says (the newest `limit` points of a range, oldest
 * first, and the range's total). Checks every answer against a plain scan of the array and
 * that no answer needs more than a few bounded requests.
 */
import { describe, expect, it } from 'vitest';
import type { Point } from '../../shared/contract.js';
import { PointCache } from '../../renderer/src/model/point-cache.js';
import { PointResolver, type FetchWindow } from '../../renderer/src/model/point-resolver.js';
import { prng } from '../helpers/prng.js';

function makePoints(n: number, seed: number): Point[] {
  const rand = prng(seed);
  const out: Point[] = [];
  let t = 1_700_000_000_000_000;
  let seq = 10;
  for (let i = 0; i < n; i++) {
    // Bursts and gaps: most points a second apart, some in the same µs, some hours apart.
    const r = rand();
    t += r < 0.05 ? 0 : r < 0.97 ? 1_000_000 : 5 * 3600e6;
    seq += 1 + Math.floor(rand() * 3); // seqs are global: other disks take some
    out.push({ seq, disk: 'home', timeUs: t, flags: [] });
  }
  return out;
}

function timelineOver(points: Point[]) {
  const calls: Array<{ fromUs?: number; toUs?: number; limit: number }> = [];
  const fetch: FetchWindow = async (req) => {
    calls.push(req);
    const inRange = points.filter((p) => (req.fromUs === undefined || p.timeUs >= req.fromUs) && (req.toUs === undefined || p.timeUs <= req.toUs));
    return { ...req, points: inRange.slice(-req.limit), total: inRange.length };
  };
  return { fetch, calls };
}

const atOrBeforeScan = (points: Point[], us: number) => [...points].reverse().find((p) => p.timeUs <= us);

describe('PointResolver over 100,000 points', () => {
  const points = makePoints(100_000, 7);
  const first = points[0]!.timeUs;
  const last = points[points.length - 1]!.timeUs;

  it('resolves any time to the last point at or before it, with few bounded requests', async () => {
    const { fetch, calls } = timelineOver(points);
    const r = new PointResolver(new PointCache(), fetch);
    const w = await r.loadNewest();
    expect(w?.points.length).toBe(500);
    const rand = prng(3);
    for (let k = 0; k < 200; k++) {
      const us = Math.floor(first - 5e6 + rand() * (last - first + 10e6));
      const before = calls.length;
      const got = await r.atOrBefore(us);
      expect(got?.seq).toBe(atOrBeforeScan(points, us)?.seq);
      expect(calls.length - before).toBeLessThanOrEqual(1);
    }
    expect(calls.every((c) => c.limit === 500)).toBe(true);
    expect(r.cache.size).toBeLessThan(100_000);
  });

  it('steps point by point in both directions, across gaps it has not loaded', async () => {
    const { fetch, calls } = timelineOver(points);
    const r = new PointResolver(new PointCache(), fetch);
    await r.loadNewest();
    // Start in the middle, far from anything loaded.
    // (the last of its µs, which is what a time resolves to)
    let m = 50_000;
    while (points[m + 1]!.timeUs === points[m]!.timeUs) m++;
    let at = await r.atOrBefore(points[m]!.timeUs);
    expect(at?.seq).toBe(points[m]!.seq);
    for (let i = 1; i <= 1200; i++) {
      at = await r.newer(at!);
      expect(at?.seq).toBe(points[m + i]!.seq);
    }
    for (let i = 1199; i >= -800; i--) {
      at = await r.older(at!);
      expect(at?.seq).toBe(points[m + i]!.seq);
    }
    // ~2000 steps over windows of 500: a handful of requests, not one per step.
    expect(calls.length).toBeLessThan(40);
  });

  it('knows the ends: nothing before the first point, nothing after the newest', async () => {
    const { fetch } = timelineOver(points);
    const r = new PointResolver(new PointCache(), fetch);
    await r.loadNewest();
    const newest = points[points.length - 1]!;
    expect((await r.atOrBefore(last + 1e9))?.seq).toBe(newest.seq);
    expect(await r.newer({ seq: newest.seq, timeUs: newest.timeUs })).toBeUndefined();
    const oldest = await r.atOrBefore(first);
    expect(oldest?.seq).toBe(points[0]!.seq);
    expect(await r.older(oldest!)).toBeUndefined();
    expect(await r.atOrBefore(first - 1)).toBeUndefined();
  });

  it('steps newer from a point given by time and sequence only (a file version), not cached yet', async () => {
    const { fetch } = timelineOver(points);
    const r = new PointResolver(new PointCache(), fetch);
    const p = points[20_000]!;
    expect((await r.newer({ seq: p.seq, timeUs: p.timeUs }))?.seq).toBe(points[20_001]!.seq);
    expect((await r.older({ seq: p.seq, timeUs: p.timeUs }))?.seq).toBe(points[19_999]!.seq);
  });

  it('takes in committed points after the newest window', async () => {
    const small = makePoints(30, 9);
    const { fetch, calls } = timelineOver(small);
    const r = new PointResolver(new PointCache(), fetch);
    await r.loadNewest();
    const next = { seq: small[29]!.seq + 5, timeUs: small[29]!.timeUs + 2e6 };
    r.cache.append(next);
    const before = calls.length;
    expect((await r.newer({ seq: small[29]!.seq, timeUs: small[29]!.timeUs }))?.seq).toBe(next.seq);
    expect((await r.atOrBefore(next.timeUs + 10))?.seq).toBe(next.seq);
    expect(calls.length).toBe(before);
  });
});
