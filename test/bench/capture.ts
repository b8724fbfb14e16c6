import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdirSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { scanPass } from '../../electron/engine/capture/scan-pass.js';
import { TrackCapture } from '../../electron/engine/capture/track-capture.js';
import { protectSource } from '../../electron/engine/capture/protect.js';
import { borg, BORG_NAME, INSTALL_HINT, restic, RESTIC_NAME, type BackupTool, type PassKind, type Timing } from './backup-tools.js';
import { changeBlocks, makeImage } from './capture-image.js';
import { dropCaches, fmtMBps, fmtMs, fmtRatio, GiB, log, MiB, mbps, now, percentile, report, scaled, tempDir, verdict } from './measure.js';

/** One contender of the scan bench: ours (plain or encrypted), restic or borg. */
interface Contender {
  name: string;
  /** Wall and CPU milliseconds and bytes added to the repository, or undefined when the tool failed. */
  pass(kind: PassKind): Promise<(Timing & { stored: number }) | undefined>;
  version?: string;
  close(): void;
}

const PASSES: Array<{ kind: PassKind; label: string }> = [
  { kind: 'first', label: 'first pass' },
  { kind: 'unchanged', label: 'unchanged pass' },
  { kind: 'changed', label: '1% changed' },
];

/**
 * Issue 4's bench: a scan pass over a fixed test image (40 % random, 30 % zeros, 30 %
 * text/binaries, generated the same way every run) — first pass, unchanged pass, a pass
 * with 1 % of blocks changed — ours plain and encrypted, beside `restic backup` and
 * `borg create` of the same image in the same run; and track mode's write-to-point latency.
 * The page cache is dropped before every pass of every tool (as root), so each one reads
 * the image from the disk, as a scan of a real device does.
 */
export async function benchCapture(): Promise<void> {
  const size = scaled(1 * GiB, 64 * MiB);
  const tmp = tempDir('capture');
  try {
    const image = join(tmp.path, 'disk.img');
    makeImage(image, size);
    const ms: Record<string, number | undefined> = {};
    const rows: Array<Array<string | number>> = [];
    const data: Record<string, Record<string, number>> = {};
    const versions = new Set<string>();
    let cold = true;
    const rawRead = () => {
      cold = settle() && cold;
      return readWhole(image);
    };
    const rawBefore = rawRead();
    /** Every contender in turn: a slow minute on the shared VM hits them all. */
    const runPass = async (contenders: Contender[], kind: PassKind, label: string) => {
      for (const c of contenders) {
        cold = settle() && cold;
        const r = await c.pass(kind);
        const key = `${c.name} ${label}`;
        log(`  … ${key}: ${r ? `${fmtMs(r.ms)}, ${fmtMBps(mbps(size, r.ms))}, CPU ${fmtMs(r.cpuMs)}` : 'failed'}`);
        if (!r || (ms[key] !== undefined && ms[key]! <= r.ms)) continue;
        ms[key] = r.ms;
        data[key] = { ms: r.ms, mbps: mbps(size, r.ms), cpuMs: r.cpuMs, bytesStored: r.stored };
      }
    };
    let contenders: Contender[] = [];
    let rawAgain = rawBefore;
    try {
      // The first pass is the noisiest (it writes the most): the best of FIRST_PASSES, each
      // into fresh repositories; the later passes follow the last of them.
      for (let round = 1; round <= FIRST_PASSES; round++) {
        for (const c of contenders.splice(0)) c.close();
        rmSync(join(tmp.path, `round${round - 1}`), { recursive: true, force: true });
        const dir = join(tmp.path, `round${round}`);
        mkdirSync(dir);
        contenders = await freshContenders(dir, image);
        for (const c of contenders) if (c.version) versions.add(c.version);
        await runPass(contenders, 'first', 'first pass');
      }
      // Here, not at the end: the disk is still busy with the first passes' writes after
      // the sync, and the raw read takes that hit instead of the next pass.
      rawAgain = rawRead();
      for (const { kind, label } of PASSES.filter((p) => p.kind !== 'first')) {
        const undo = kind === 'changed' ? changeBlocks(image, size, 0.01) : undefined;
        try {
          await runPass(contenders, kind, label);
        } finally {
          undo?.();
        }
      }
    } finally {
      for (const c of contenders) c.close();
    }
    const raw = Math.min(rawBefore.ms, rawAgain.ms);
    log(`  … raw read of the image: ${fmtMs(raw)}, ${fmtMBps(mbps(size, raw))}`);
    data['raw read'] = { ms: raw, mbps: mbps(size, raw) };
    rows.push(['disk speed', `raw read (best of 2: ${rawAgain.how})`, fmtMs(raw), fmtMBps(mbps(size, raw)), '', '', '']);
    for (const { label } of PASSES) {
      for (const name of [OURS_PLAIN, OURS_ENC, RESTIC, BORG]) {
        const key = `${name} ${label}`;
        const t = ms[key];
        const vsRestic = ms[`${RESTIC} ${label}`];
        if (t === undefined) rows.push([label, name, 'failed', '', '', '', '']);
        else rows.push([label, name, fmtMs(t), fmtMBps(mbps(size, t)), Number.isNaN(data[key]!.cpuMs) ? '' : fmtMs(data[key]!.cpuMs!), `${(data[key]!.bytesStored! / MiB).toFixed(1)} MiB`, vsRestic ? fmtRatio(vsRestic, t) : '']);
      }
    }
    report({
      title: `Scan pass over a ${(size / MiB).toFixed(0)} MiB image (40% random, 30% zeros, 30% text/binaries)`,
      columns: ['pass', 'who', 'time', 'throughput', 'CPU (all threads)', 'stored', 'speed vs restic'],
      rows,
      data,
      notes: targetNotes(ms, size, cold, [...versions], raw),
    });
    await benchTrackLatency(tmp.path);
  } finally {
    tmp.remove();
  }
}

const OURS_PLAIN = 'chronodisk scan (plain)';
const OURS_ENC = 'chronodisk scan (encrypted)';
const RESTIC = RESTIC_NAME;
const BORG = BORG_NAME;
const FIRST_PASSES = 2;

/** Ours plain and encrypted, restic and borg (where installed), each with a new repository in `dir`. */
async function freshContenders(dir: string, image: string): Promise<Contender[]> {
  const out = [await ours(dir, image, undefined), await ours(dir, image, 'bench passphrase')];
  for (const t of [restic(dir, image), borg(dir, image)]) if (t) out.push(tool(t));
  return out;
}

async function ours(dir: string, image: string, passphrase: string | undefined): Promise<Contender> {
  const appDir = join(dir, passphrase ? 'app-enc' : 'app');
  await Appliance.init(appDir, { passphrase });
  const app = await Appliance.open(appDir, { writable: true, passphrase });
  const disk = await protectSource(app, image, { name: 'disk' });
  return {
    name: passphrase ? OURS_ENC : OURS_PLAIN,
    pass: async () => {
      const c0 = process.cpuUsage();
      const t0 = now();
      const r = await scanPass(app, disk, { freeze: false });
      const ms = now() - t0;
      const cpu = process.cpuUsage(c0); // the whole process: the encoder threads too
      return { ms, cpuMs: (cpu.user + cpu.system) / 1000, stored: r.bytesStored };
    },
    close: () => app.close(),
  };
}

function tool(t: BackupTool): Contender {
  return {
    name: t.name,
    version: t.version,
    pass: async (kind) => {
      const before = t.repoBytes();
      const r = t.backup(kind);
      return r === undefined ? undefined : { ...r, stored: t.repoBytes() - before };
    },
    close: () => undefined,
  };
}

/** Writes back what is dirty, then drops the page cache: every pass starts from a quiet disk and reads it. */
function settle(): boolean {
  execFileSync('sync');
  return dropCaches();
}

/**
 * The disk's speed for this image: fio's sequential O_DIRECT reads of 8 MiB, 4 in flight,
 * where fio is installed; else plain sequential 8 MiB reads (kernel read-ahead).
 */
function readWhole(path: string): { ms: number; how: string } {
  const fio = spawnSync('fio', ['--name=raw', `--filename=${path}`, '--rw=read', '--bs=8M', '--direct=1', '--ioengine=libaio', '--iodepth=4', '--readonly', '--output-format=json'], { encoding: 'utf8' });
  if (fio.status === 0) {
    const read = (JSON.parse(fio.stdout) as { jobs: Array<{ read: { runtime: number } }> }).jobs[0]!.read;
    return { ms: read.runtime, how: 'fio, O_DIRECT 8 MiB reads, 4 in flight' };
  }
  const buf = Buffer.allocUnsafeSlow(8 * MiB);
  const fd = openSync(path, 'r');
  try {
    const t0 = now();
    for (let at = 0; readSync(fd, buf, 0, buf.length, at) > 0; at += buf.length);
    return { ms: now() - t0, how: '8 MiB reads, kernel read-ahead (fio not installed)' };
  } finally {
    closeSync(fd);
  }
}

function targetNotes(ms: Record<string, number | undefined>, size: number, cold: boolean, versions: string[], raw: number): string[] {
  const gib = size / GiB;
  const notes = [cold ? 'before every pass of every tool: sync, then the page cache dropped, so each reads the image from the disk' : 'page cache NOT dropped (needs root): reads may come from memory'];
  notes.push(`first pass: the best of ${FIRST_PASSES}, each into a new repository; CPU is user + system time of all threads`);
  if (versions.length < 2) notes.push(`restic or borg missing: ${INSTALL_HINT}`);
  if (versions.length) notes.push(`${versions.join(', ')}; their later passes re-read the whole image (restic --force, borg --files-cache disabled), as a disk has no mtime`);
  const restic = ms[`${RESTIC} first pass`];
  for (const name of [OURS_PLAIN, OURS_ENC]) {
    const first = ms[`${name} first pass`];
    if (restic !== undefined && first !== undefined) notes.push(`first pass, ${name}: ${fmtRatio(restic, first)} restic's throughput (target ≥ 3×: ${verdict(restic / first >= 3)})`);
    const same = ms[`${name} unchanged pass`];
    if (same !== undefined) notes.push(`unchanged pass, ${name}: ${fmtMs(same / gib)} per GiB, ${fmtRatio(raw, same)} of the raw read's speed (target ≤ 1 s: ${verdict(same / gib <= 1000)})`);
  }
  return notes;
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
