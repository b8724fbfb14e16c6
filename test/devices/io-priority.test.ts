import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Clock, ioPriorityOf, RateLimiter, setIdleIoPriority } from '../../electron/engine/devices/io-priority.js';

const MiB = 1024 * 1024;

/** A clock that only moves when someone sleeps (or the test says so). */
function fakeClock(): Clock & { t: number; slept: number[] } {
  const c = {
    t: 0,
    slept: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.slept.push(ms);
      c.t += ms;
    },
  };
  return c;
}

describe('RateLimiter', () => {
  it('lets a full bucket through at once, then holds to the rate', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(MiB, { clock });
    await limiter.take(MiB);
    expect(clock.t).toBe(0);
    await limiter.take(MiB);
    expect(clock.t).toBe(1000);
    for (let i = 0; i < 16; i++) await limiter.take(64 * 1024);
    expect(clock.t).toBe(2000);
  });

  it('keeps the long-run rate with chunks bigger than the bucket', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(MiB, { burstBytes: 256 * 1024, clock });
    await limiter.take(4 * MiB); // 256 KiB from the bucket, the rest is debt
    expect(clock.t).toBe(3750);
    await limiter.take(MiB);
    expect(clock.t).toBe(4750);
  });

  it('refills during pauses, but never beyond the burst', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(MiB, { burstBytes: MiB, clock });
    await limiter.take(MiB);
    clock.t += 60_000; // a long idle minute
    expect(limiter.delayFor(MiB)).toBe(0);
    expect(limiter.delayFor(2 * MiB)).toBe(1000);
    await limiter.take(2 * MiB);
    expect(clock.t).toBe(61_000);
    clock.t += 500;
    expect(limiter.delayFor(MiB / 2)).toBe(0);
    expect(limiter.delayFor(MiB)).toBe(500);
  });

  it('splits the rate between concurrent takers', async () => {
    // Time stands still while both are asleep: each must wait for its place in line.
    const clock = { ...fakeClock(), slept: [] as number[] };
    clock.sleep = async (ms: number) => {
      clock.slept.push(ms);
    };
    const limiter = new RateLimiter(MiB, { burstBytes: 0, clock });
    await Promise.all([limiter.take(MiB), limiter.take(MiB)]);
    // The second waits out the first one's debt too.
    expect(clock.slept).toEqual([1000, 2000]);
  });

  it('is unlimited at 0 or Infinity, and follows a new rate', async () => {
    const clock = fakeClock();
    for (const rate of [0, Infinity]) {
      const l = new RateLimiter(rate, { clock });
      await l.take(100 * MiB);
      expect(l.delayFor(100 * MiB)).toBe(0);
    }
    expect(clock.t).toBe(0);
    const l = new RateLimiter(0, { clock });
    l.setRate(2 * MiB, 0);
    await l.take(MiB);
    expect(clock.t).toBe(500);
  });
});

describe('setIdleIoPriority', () => {
  it('puts every thread of a process in the idle class', async () => {
    // The child says "ready" once a pool read has run, so libuv's threads exist.
    const child = spawn(process.execPath, ['-e', 'require("fs").readFile(process.execPath, () => console.log("ready")); setTimeout(() => {}, 20000)'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await once(child.stdout!, 'data');
      expect(await ioPriorityOf(child.pid!)).not.toBe('idle');
      expect(await setIdleIoPriority(child.pid!)).toBe(true);
      const tids = readdirSync(`/proc/${child.pid}/task`).map(Number);
      expect(tids.length).toBeGreaterThan(1);
      for (const tid of tids) expect(await ioPriorityOf(tid)).toBe('idle');
    } finally {
      child.kill();
      await once(child, 'exit');
    }
  });
});
