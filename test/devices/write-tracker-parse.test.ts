import { describe, expect, it } from 'vitest';
import { eventsOf, parseLost, parseRqComplete, type TrackTarget } from '../../electron/engine/devices/write-tracker.js';

const disk: TrackTarget = { disk: { major: 7, minor: 0 }, start: 0, size: 64 * 1024 * 1024 };
const line = (rwbs: string, sector: number | string, n: number) =>
  `     ksoftirqd/1-22      [001] ..s..   788.526945: block_rq_complete: 7,0 ${rwbs} () ${sector} + ${n} be,0,4 [0]`;
const ev = (rwbs: string, sector: number, n: number, target = disk) => eventsOf(parseRqComplete(line(rwbs, sector, n))!, target);

describe('parsing trace_pipe lines', () => {
  it('reads device, rwbs, sector and count', () => {
    expect(parseRqComplete(line('WS', 20482, 2560))).toEqual({ major: 7, minor: 0, rwbs: 'WS', sector: 20482, sectors: 2560 });
    expect(parseRqComplete('  kworker/0:1H-87 [000] ..... 1.0: block_rq_complete: 8,16 W (12 34 56) 8 + 8 be,0,4 [0]')).toMatchObject({ major: 8, minor: 16, sector: 8 });
    expect(parseRqComplete('CPU:0 [LOST 1656 EVENTS]')).toBeUndefined();
  });
  it('recognises lost-event lines, with or without a count', () => {
    expect(parseLost('CPU:0 [LOST 1656 EVENTS]')).toBe(1656);
    expect(parseLost('CPU:1 [LOST EVENTS]')).toBeNull();
    expect(parseLost(line('WS', 8, 8))).toBeUndefined();
  });
});

describe('eventsOf', () => {
  it('turns writes, discards and write-zeroes into byte ranges, and ignores reads and empty requests', () => {
    expect(ev('WS', 80, 8)).toEqual([{ kind: 'write', offset: 40960, length: 4096 }]);
    expect(ev('W', 0, 1)).toEqual([{ kind: 'write', offset: 0, length: 512 }]);
    expect(ev('WSM', 16, 8)).toEqual([{ kind: 'write', offset: 8192, length: 4096 }]);
    expect(ev('DS', 2048, 128)).toEqual([{ kind: 'write', offset: 1048576, length: 65536 }]);
    expect(ev('NS', 4096, 128)).toEqual([{ kind: 'write', offset: 2097152, length: 65536 }]);
    expect(ev('RA', 8, 8)).toEqual([]);
    expect(ev('R', 8, 8)).toEqual([]);
    expect(ev('WS', 800, 0)).toEqual([]);
  });
  it('reports flushes: FF, PREFLUSH before a write, FUA after it', () => {
    expect(eventsOf(parseRqComplete(line('FF', '18446744073709551615', 0))!, disk)).toEqual([{ kind: 'flush' }]);
    expect(ev('FWS', 8, 8)).toEqual([{ kind: 'flush' }, { kind: 'write', offset: 4096, length: 4096 }]);
    expect(ev('WFS', 8, 8)).toEqual([{ kind: 'write', offset: 4096, length: 4096 }, { kind: 'flush' }]);
    expect(ev('FWFS', 8, 8)).toEqual([{ kind: 'flush' }, { kind: 'write', offset: 4096, length: 4096 }, { kind: 'flush' }]);
  });
  it('keeps only what lies inside a partition, relative to its start', () => {
    const part: TrackTarget = { disk: { major: 7, minor: 0 }, start: 2048 * 512, size: 1024 * 512 };
    expect(ev('WS', 2048, 8, part)).toEqual([{ kind: 'write', offset: 0, length: 4096 }]);
    expect(ev('WS', 2040, 16, part)).toEqual([{ kind: 'write', offset: 0, length: 4096 }]);
    expect(ev('WS', 3064, 16, part)).toEqual([{ kind: 'write', offset: 1016 * 512, length: 4096 }]);
    expect(ev('WS', 0, 2048, part)).toEqual([]);
    expect(ev('WS', 3072, 8, part)).toEqual([]);
    expect(ev('FF', 0, 0, part)).toEqual([{ kind: 'flush' }]);
  });
  it('clips a whole-disk write to the disk size', () => {
    expect(ev('WS', 131064, 16)).toEqual([{ kind: 'write', offset: 131064 * 512, length: 4096 }]);
  });
});
