import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Keeping capture out of the user's way: idle I/O priority (the disk serves capture only
 * when nobody else wants it) and a byte-rate limit for capture reads.
 */

/**
 * Puts every thread of a process in the idle I/O class (`ionice -c3`). Linux keeps I/O
 * priority per thread and libuv's pool threads do the file I/O, so all current threads
 * are set (threads created later inherit it). Best effort: false when ionice is missing
 * or refused.
 */
export async function setIdleIoPriority(pid = process.pid): Promise<boolean> {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    tids = [String(pid)];
  }
  try {
    await run('ionice', ['-c', '3', '-p', ...tids]);
    return true;
  } catch (e) {
    // A thread that ended meanwhile is no failure; anything else (no ionice, EPERM) is.
    const lines = String((e as { stderr?: unknown }).stderr ?? '').split('\n').filter((l) => l.trim());
    return lines.length > 0 && lines.every((l) => /No such process/.test(l));
  }
}

/** What `ionice -p` says of a thread or process: "idle", "best-effort: prio 4", … */
export async function ioPriorityOf(pid: number): Promise<string> {
  const { stdout } = await run('ionice', ['-p', String(pid)]);
  return stdout.trim();
}

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: async (ms) => {
    await sleep(ms);
  },
};

/**
 * A token bucket over bytes: on average at most `bytesPerSecond`, with bursts up to
 * `burstBytes` after a pause. A request larger than the bucket goes into debt that later
 * requests wait out, so any chunk size works and the long-run rate holds.
 */
export class RateLimiter {
  private tokens: number;
  private last: number;
  private rate: number;
  private burst: number;
  private readonly clock: Clock;

  /** `bytesPerSecond` of 0 or Infinity means unlimited. */
  constructor(bytesPerSecond: number, opts: { burstBytes?: number; clock?: Clock } = {}) {
    this.clock = opts.clock ?? realClock;
    this.rate = bytesPerSecond;
    this.burst = opts.burstBytes ?? bytesPerSecond;
    this.tokens = this.burst;
    this.last = this.clock.now();
  }

  get unlimited(): boolean {
    return !(this.rate > 0) || this.rate === Infinity;
  }

  /** Changes the rate (a settings change mid-capture); the burst follows unless given. */
  setRate(bytesPerSecond: number, burstBytes = bytesPerSecond): void {
    this.refill();
    this.rate = bytesPerSecond;
    this.burst = burstBytes;
    this.tokens = Math.min(this.tokens, this.burst);
  }

  private refill(): void {
    const now = this.clock.now();
    if (!this.unlimited) this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }

  /** Milliseconds `bytes` would have to wait now, without taking anything. */
  delayFor(bytes: number): number {
    if (this.unlimited) return 0;
    this.refill();
    const deficit = bytes - this.tokens;
    return deficit > 0 ? (deficit / this.rate) * 1000 : 0;
  }

  /** Waits until `bytes` may pass, and takes them. */
  async take(bytes: number): Promise<void> {
    if (this.unlimited) return;
    this.refill();
    this.tokens -= bytes;
    if (this.tokens < 0) await this.clock.sleep((-this.tokens / this.rate) * 1000);
  }
}
