import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Compressor } from 'zstd-napi';
import { fmtMBps, fmtMs, KiB, mbps, MiB, now, percentile, pool, tempDir } from './measure.js';

/**
 * How fast this machine is right now: memcpy, zstd level 1 on the bench's text and files data, and
 * fdatasync latency. Printed before the suites, because on a shared VM the same code can
 * run several times slower from one minute to the next; the ratios to raw figures are
 * only comparable between runs whose calibration lines agree.
 */
export interface Calibration {
  loadavg1: number;
  memcpyMBps: number;
  zstd1TextMBps: number;
  zstd1FilesMBps: number;
  fdatasyncP50Ms: number;
  fdatasyncP99Ms: number;
}

export function calibrate(): Calibration {
  const a = Buffer.alloc(64 * MiB, 1);
  const b = Buffer.allocUnsafe(64 * MiB);
  let t0 = now();
  for (let i = 0; i < 4; i++) a.copy(b);
  const memcpyMBps = mbps(4 * a.length, now() - t0);

  const c = new Compressor();
  c.setParameters({ compressionLevel: 1 });
  const zstd1 = (data: Buffer) => {
    const t = now();
    for (let at = 0; at < data.length; at += 64 * KiB) c.compress(data.subarray(at, at + 64 * KiB));
    return mbps(data.length, now() - t);
  };
  const zstd1TextMBps = zstd1(pool('text').subarray(0, 16 * MiB));
  const zstd1FilesMBps = zstd1(pool('files').subarray(0, 16 * MiB));

  const dir = tempDir('calibrate');
  const fd = openSync(join(dir.path, 'f'), 'w');
  const page = Buffer.alloc(4 * KiB, 7);
  const lat: number[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      writeSync(fd, page, 0, page.length, (i % 16) * page.length);
      const t = now();
      fdatasyncSync(fd);
      lat.push(now() - t);
    }
  } finally {
    closeSync(fd);
    dir.remove();
  }
  return { loadavg1: loadavg()[0]!, memcpyMBps, zstd1TextMBps, zstd1FilesMBps, fdatasyncP50Ms: percentile(lat, 50), fdatasyncP99Ms: percentile(lat, 99) };
}

export function describe(c: Calibration): string {
  return (
    `machine now: load ${c.loadavg1.toFixed(1)}, memcpy ${fmtMBps(c.memcpyMBps)}, zstd-1 on text ${fmtMBps(c.zstd1TextMBps)}, on files ${fmtMBps(c.zstd1FilesMBps)} (one core), ` +
    `fdatasync p50 ${fmtMs(c.fdatasyncP50Ms)} p99 ${fmtMs(c.fdatasyncP99Ms)}`
  );
}
