import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { scanPass } from '../../electron/engine/capture/scan-pass.js';
import { TrackCapture } from '../../electron/engine/capture/track-capture.js';
import { protectSource } from '../../electron/engine/capture/protect.js';
import { fmtMBps, fmtMs, fmtRatio, GiB, log, MiB, mbps, now, percentile, prng, randomPool, report, scaled, tempDir, textPool, verdict } from './measure.js';

/**
 * Issue 4's bench: a scan pass over a fixed test image (40 % random, 30 % zeros, 30 %
 * text/binaries, generated the same way every run) — first pass, unchanged pass, a pass
 * with 1 % of blocks changed — beside `restic backup` and `borg create` of the same image
 * in the same run; and track mode's write-to-point latency.
 */
export async function benchCapture(): Promise<void> {
  const size = scaled(1 * GiB, 64 * MiB);
  const tmp = tempDir('chronodisk-bench-capture-');
  try {
    const image = join(tmp.path, 'disk.img');
    makeImage(image, size);
    const rows: Array<Array<string | number>> = [];
    const data: Record<string, Record<string, number>> = {};
    const results: Record<string, number> = {};
    for (const passphrase of [undefined, 'bench passphrase']) {
      const dir = join(tmp.path, passphrase ? 'app-enc' : 'app');
      await Appliance.init(dir, { passphrase });
      const app = await Appliance.open(dir, { writable: true, passphrase });
      try {
        const disk = await protectSource(app, image, { name: 'disk' });
        const pass = async (label: string) => {
          const t0 = now();
          const r = await scanPass(app, disk, { freeze: false });
          const ms = now() - t0;
          const key = `${passphrase ? 'encrypted' : 'plain'} ${label}`;
          results[key] = ms;
          rows.push([key, fmtMs(ms), fmtMBps(mbps(size, ms)), `${(r.bytesStored / MiB).toFixed(1)} MiB`]);
          data[key] = { ms, mbps: mbps(size, ms), bytesStored: r.bytesStored };
        };
        await pass('first pass');
        await pass('unchanged pass');
        changeBlocks(image, size, 0.01);
        await pass('1% changed');
      } finally {
        app.close();
      }
      // Put the image back as it was for the next round and the other tools.
      makeImage(image, size);
    }
    const restic = runRestic(tmp.path, image);
    const borg = runBorg(tmp.path, image);
    for (const [name, ms] of [['restic backup (encrypted)', restic], ['borg create (lz4, unencrypted)', borg]] as const) {
      if (ms === undefined) rows.push([name, 'not installed', '', '']);
      else {
        rows.push([name, fmtMs(ms), fmtMBps(mbps(size, ms)), '']);
        data[name] = { ms, mbps: mbps(size, ms) };
      }
    }
    const first = results['plain first pass']!;
    const firstEnc = results['encrypted first pass']!;
    const notes = [
      restic !== undefined
        ? `first pass vs restic: plain ${fmtRatio(restic, first)}, encrypted ${fmtRatio(restic, firstEnc)} (target ≥ 3×: ${verdict(restic / first >= 3)})`
        : 'restic missing: apt-get install restic borgbackup',
      `unchanged pass: ${fmtMs(results['plain unchanged pass']!)} over ${(size / GiB).toFixed(2)} GiB (target ≤ 1 s per GiB: ${verdict(results['plain unchanged pass']! / (size / GiB) <= 1000)})`,
    ];
    report({ title: `Scan pass over a ${(size / MiB).toFixed(0)} MiB image (40% random, 30% zeros, 30% text)`, columns: ['case', 'time', 'throughput', 'stored'], rows, data, notes });
    await benchTrackLatency(tmp.path);
  } finally {
    tmp.remove();
  }
}

function makeImage(path: string, size: number): void {
  const rand = prng(42);
  const random = randomPool(8 * MiB);
  const text = textPool(8 * MiB, 7);
  const zeros = Buffer.alloc(4 * MiB);
  const fd = openSync(path, 'w');
  try {
    const chunk = 4 * MiB;
    for (let at = 0; at < size; at += chunk) {
      const r = rand();
      const n = Math.min(chunk, size - at);
      const src = r < 0.4 ? random : r < 0.7 ? zeros : text;
      const from = src === zeros ? 0 : Math.floor(rand() * (src.length - n));
      writeSync(fd, src, from, n, at);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function changeBlocks(path: string, size: number, fraction: number): void {
  const rand = prng(99);
  const fd = openSync(path, 'r+');
  try {
    const block = 64 * 1024;
    const blocks = size / block;
    const junk = randomPool(block);
    for (let i = 0; i < blocks * fraction; i++) writeSync(fd, junk, 0, block, Math.floor(rand() * blocks) * block);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function toolTime(cmd: string, args: string[], env: Record<string, string>): number | undefined {
  if (spawnSync('which', [cmd]).status !== 0) return undefined;
  const t0 = now();
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    log(`  ${cmd} failed: ${r.stderr.split('\n')[0]}`);
    return undefined;
  }
  return now() - t0;
}

function runRestic(dir: string, image: string): number | undefined {
  const repo = join(dir, 'restic');
  const env = { RESTIC_PASSWORD: 'bench passphrase', RESTIC_REPOSITORY: repo, RESTIC_CACHE_DIR: join(dir, 'restic-cache') };
  if (spawnSync('which', ['restic']).status !== 0) return undefined;
  execFileSync('restic', ['init', '--quiet'], { env: { ...process.env, ...env } });
  return toolTime('restic', ['backup', '--quiet', image], env);
}

function runBorg(dir: string, image: string): number | undefined {
  const repo = join(dir, 'borg');
  const env = { BORG_PASSPHRASE: '', BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes', BORG_BASE_DIR: join(dir, 'borg-base') };
  if (spawnSync('which', ['borg']).status !== 0) return undefined;
  mkdirSync(env.BORG_BASE_DIR, { recursive: true });
  execFileSync('borg', ['init', '--encryption=none', repo], { env: { ...process.env, ...env } });
  return toolTime('borg', ['create', '--compression', 'lz4', `${repo}::bench`, image], env);
}

/** Track mode on a loop device: from a direct write's completion to the point holding it. */
async function benchTrackLatency(dir: string): Promise<void> {
  if (process.getuid?.() !== 0) {
    log('  track latency: needs root (loop devices, tracefs); skipped');
    return;
  }
  const img = join(dir, 'track.img');
  execFileSync('truncate', ['-s', String(64 * MiB), img]);
  const dev = execFileSync('losetup', ['-f', '--show', img], { encoding: 'utf8' }).trim();
  const appDir = join(dir, 'app-track');
  await Appliance.init(appDir);
  const app = await Appliance.open(appDir, { writable: true });
  const samples: number[] = [];
  try {
    const disk = await protectSource(app, dev, { name: 'track', mode: 'track' });
    let waiting: { offset: number; t0: number; resolve: () => void } | undefined;
    const track = new TrackCapture(app, disk, {
      onPoint: (p, how) => {
        if (how === 'track' && waiting) {
          samples.push(now() - waiting.t0);
          waiting.resolve();
          waiting = undefined;
        }
      },
    });
    await track.start();
    const fd = openSync(dev, 'r+');
    const block = Buffer.alloc(4096, 7);
    try {
      for (let i = 0; i < scaled(40, 5); i++) {
        await new Promise<void>((resolve) => {
          const t0 = now();
          writeSync(fd, block, 0, block.length, (i % 1000) * 65536);
          fsyncSync(fd);
          waiting = { offset: i, t0, resolve };
        });
      }
    } finally {
      closeSync(fd);
      await track.stop();
    }
  } finally {
    app.close();
    spawnSync('losetup', ['-d', dev]);
  }
  report({
    title: 'Track mode: write (fsynced) to committed point',
    columns: ['writes', 'p50', 'p99', 'max'],
    rows: [[samples.length, fmtMs(percentile(samples, 50)), fmtMs(percentile(samples, 99)), fmtMs(Math.max(...samples))]],
    data: { latency: { p50: percentile(samples, 50), p99: percentile(samples, 99) } },
    notes: [`target p99 ≤ 1 s: ${verdict(percentile(samples, 99) <= 1000)}; batches are cut every 200 ms.`],
  });
}
