import { describe, expect, it } from 'vitest';
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
  it('accepts --at -10m and --at=-10m', () => {
    for (const args of [['--at', '-10m'], ['--at=-10m']]) {
      const r = runCli(['parse-point', ...args, '--json']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ kind: 'ago', micros: 600e6 });
    }
  });
  it('accepts a quoted bookmark with spaces', () => {
    const r = runCli(['parse-point', '--at', '@before upgrade', '--json']);
    expect(JSON.parse(r.stdout)).toEqual({ kind: 'bookmark', label: 'before upgrade' });
  });
  it('rejects a malformed point with one line and exit 2', () => {
    const r = runCli(['parse-point', '--at', 'yesterday']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/"yesterday" is not a point/);
  });
});
