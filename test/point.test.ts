import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Appliance } from '../electron/engine/appliance.js';
import { parsePointSpec, PointSyntaxError } from '../shared/point.js';
import { formatIsoMicros, parseIsoMicros } from '../shared/time.js';
import { runCli } from './helpers/cli.js';

describe('point syntax', () => {
  it('reads a sequence number', () => {
    expect(parsePointSpec('1234')).toEqual({ kind: 'seq', seq: 1234 });
    expect(parsePointSpec('0')).toEqual({ kind: 'seq', seq: 0 });
  });
  it('reads ISO times, UTC when no zone is given', () => {
    expect(parsePointSpec('2026-11-25T10:00:00Z')).toEqual({ kind: 'time', time: Date.UTC(2026, 10, 25, 10) * 1000 });
    expect(parsePointSpec('2026-11-25T10:00:00')).toEqual({ kind: 'time', time: Date.UTC(2026, 10, 25, 10) * 1000 });
    expect(parsePointSpec('2026-11-25T11:00:00+01:00')).toEqual({ kind: 'time', time: Date.UTC(2026, 10, 25, 10) * 1000 });
    expect(parsePointSpec('2026-11-25')).toEqual({ kind: 'time', time: Date.UTC(2026, 10, 25) * 1000 });
    expect(parsePointSpec('2026-11-25T10:00:00.000123Z')).toEqual({ kind: 'time', time: Date.UTC(2026, 10, 25, 10) * 1000 + 123 });
  });
  it('reads relative times', () => {
    expect(parsePointSpec('-10m')).toEqual({ kind: 'ago', micros: 600e6 });
    expect(parsePointSpec('-2h')).toEqual({ kind: 'ago', micros: 7200e6 });
    expect(parsePointSpec('-3d')).toEqual({ kind: 'ago', micros: 3 * 86400e6 });
  });
  it('reads bookmarks, spaces kept', () => {
    expect(parsePointSpec('@before upgrade')).toEqual({ kind: 'bookmark', label: 'before upgrade' });
    expect(parsePointSpec('@x')).toEqual({ kind: 'bookmark', label: 'x' });
  });
  it('reads now', () => {
    expect(parsePointSpec('now')).toEqual({ kind: 'now' });
  });
  it.each(['', 'yesterday', '-10', '-10q', '--10m', '@', '@ ', '12a', '2026-13-01', '2026-02-30T00:00:00Z', '1.5', '-0m', '99999999999999999999'])(
    'refuses %j with a message that lists the forms',
    (text) => {
      expect(() => parsePointSpec(text)).toThrow(PointSyntaxError);
      expect(() => parsePointSpec(text)).toThrow(/sequence number .* ISO time .* relative time .* bookmark .* now/);
    },
  );
  it('formats and parses µs ISO times both ways', () => {
    const us = Date.UTC(2026, 10, 25, 10, 0, 0, 123) * 1000 + 456;
    expect(formatIsoMicros(us)).toBe('2026-11-25T10:00:00.123456Z');
    expect(parseIsoMicros(formatIsoMicros(us))).toBe(us);
  });
});

describe('point syntax through the real CLI parser', () => {
  // An appliance with one disk and two points, made through the engine; the CLI reads it.
  const dir = join(mkdtempSync(join(tmpdir(), 'chronodisk-point-')), 'app');
  let first = 0;
  let second = 0;
  beforeAll(async () => {
    await Appliance.init(dir);
    const app = await Appliance.open(dir, { writable: true });
    const d = app.addDisk({ name: 'disk0', source: '/dev/null', size: 1 << 20, mode: 'scan', blockSize: 65536, identity: {} });
    for (const fill of [1, 2]) {
      const b = app.beginBatch(d);
      b.write(0, Buffer.alloc(4096, fill));
      const p = await b.commit();
      if (fill === 1) first = p.seq;
      else second = p.seq;
    }
    app.addBookmark(d, app.timeline.pointAt(d, first)!, 'before upgrade');
    app.close();
  });
  afterAll(() => rmSync(dirname(dir), { recursive: true, force: true }));

  it('accepts --at -10m and --at=-10m (and resolves them against the clock)', () => {
    for (const args of [['--at', '-10m'], ['--at=-10m']]) {
      const before = Date.now();
      const r = runCli(['point', '-a', dir, 'disk0', ...args, '--json']);
      // The history is seconds old, so ten minutes ago lies before its first point.
      expect(r.status).toBe(1);
      const m = /no point at or before (\S+); its first point is/.exec(r.stderr);
      expect(m, r.stderr).not.toBeNull();
      const asked = Date.parse(m![1]!);
      expect(Math.abs(before - 600_000 - asked)).toBeLessThan(30_000);
    }
  });
  it('resolves now, a seq, an ISO time and a quoted bookmark with spaces', () => {
    expect(JSON.parse(runCli(['point', '-a', dir, 'disk0', '--at', 'now', '--json']).stdout).seq).toBe(second);
    expect(JSON.parse(runCli(['point', '-a', dir, 'disk0', '--at', String(first), '--json']).stdout).seq).toBe(first);
    expect(JSON.parse(runCli(['point', '-a', dir, 'disk0', '--at', '@before upgrade', '--json']).stdout).seq).toBe(first);
    const future = new Date(Date.now() + 3600_000).toISOString();
    expect(JSON.parse(runCli(['point', '-a', dir, 'disk0', `--at=${future}`, '--json']).stdout).seq).toBe(second);
  });
  it.each(['yesterday', '-10', '@', '2026-02-30T00:00:00Z'])('rejects --at %j with one line and exit 2, before opening anything', (text) => {
    const r = runCli(['point', '-a', '/nonexistent/appliance', 'disk0', '--at', text]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/is not a point: use a sequence number/);
  });
  it('names an unknown bookmark, and a missing --at is a usage error', () => {
    const r = runCli(['point', '-a', dir, 'disk0', '--at', '@nope']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no bookmark "nope"/);
    expect(runCli(['point', '-a', dir, 'disk0']).status).toBe(2);
  });
});
