import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmtMBps, fmtRatio, log, mbps, MiB, now, pool, report, scaled, tempDir } from './measure.js';

/**
 * Split capture's durable write throughput: nbdcopy --flush of a random image through
 * `chronodisk split` (every write committed to the appliance, then applied to the source,
 * then acknowledged) beside nbdkit's file plugin writing the same image into a plain file,
 * same run, same client. Best of three runs each.
 */

const RUNS = 3;
// dist/test/bench/split.js -> the repository root, where bin/chronodisk.js is.
const cli = fileURLToPath(new URL('../../../bin/chronodisk.js', import.meta.url));

function exec(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))));
  });
}

/** Starts a long-running server and waits until `ready()` holds; stop() sends SIGTERM. */
async function startServer(cmd: string, args: string[], ready: (out: string) => boolean): Promise<{ stop(): Promise<void> }> {
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  for (let i = 0; !ready(out); i++) {
    if (i > 2400 || child.exitCode !== null) {
      child.kill();
      throw new Error(`${cmd} ${args.join(' ')} did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('close', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function fileOf(path: string, size: number, random: boolean): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, size);
  if (random) {
    const src = pool('random');
    for (let at = 0; at < size; at += src.length) writeSync(fd, src, 0, Math.min(src.length, size - at), at);
  }
  closeSync(fd);
}

async function bestCopy(runs: number, before: () => void, args: string[]): Promise<number> {
  let b = Infinity;
  for (let i = 0; i < runs; i++) {
    before();
    const t0 = now();
    await exec('nbdcopy', args);
    b = Math.min(b, now() - t0);
  }
  return b;
}

export async function benchSplit(): Promise<void> {
  const dir = tempDir('split');
  const size = scaled(256 * MiB, MiB);
  const image = join(dir.path, 'image.raw');
  const kitTarget = join(dir.path, 'kit.raw');
  const source = join(dir.path, 'source.raw');
  const app = join(dir.path, 'app');
  fileOf(image, size, true);
  fileOf(kitTarget, size, false);
  fileOf(source, size, false);
  readFileSync(image); // warm the page cache
  await exec(process.execPath, [cli, 'init', app]);
  await exec(process.execPath, [cli, 'protect', source, '-a', app, '--mode', 'split', '--name', 'vm']);
  const kitSock = join(dir.path, 'kit.sock');
  const kitPid = join(dir.path, 'kit.pid');
  const splitSock = join(dir.path, 'split.sock');
  let kit: { stop(): Promise<void> } | undefined;
  let split: typeof kit;
  try {
    kit = await startServer('nbdkit', ['-f', '--exit-with-parent', '-U', kitSock, '-P', kitPid, 'file', `file=${kitTarget}`], () => existsSync(kitPid));
    // The first split start takes the baseline scan of the (empty) source before listening.
    split = await startServer(process.execPath, [cli, 'split', '-a', app, 'vm', '--socket', splitSock, '--json'], (out) => out.includes('"listening"'));
    log(`  image: ${size / MiB} MiB of random bytes, page cache warm; split appliance on the same disk as its source`);
    const kitMs = await bestCopy(RUNS, () => fileOf(kitTarget, size, false), ['--flush', image, `nbd+unix:///?socket=${kitSock}`]);
    const splitMs = await bestCopy(RUNS, () => undefined, ['--flush', image, `nbd+unix:///vm?socket=${splitSock}`]);
    const r = (ms: number) => mbps(size, ms);
    report({
      title: 'Split write: nbdcopy --flush of the image through chronodisk split (durable), beside nbdkit file',
      columns: ['server', 'throughput', 'vs nbdkit'],
      rows: [
        ['nbdkit file', fmtMBps(r(kitMs)), '1.00×'],
        ['chronodisk split (appliance commit + source write per request)', fmtMBps(r(splitMs)), fmtRatio(r(splitMs), r(kitMs))],
      ],
      notes: ['split acknowledges a write only once it is a durable point in the appliance and applied to the source'],
      data: { nbdkit: { mbps: r(kitMs) }, split: { mbps: r(splitMs) } },
    });
  } finally {
    await split?.stop();
    await kit?.stop();
    dir.remove();
  }
}
