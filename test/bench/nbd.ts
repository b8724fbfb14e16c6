import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, writeSync, ftruncateSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileSource } from '../../electron/engine/block-source.js';
import { ExportTable } from '../../electron/engine/nbd/export.js';
import { FileExport } from '../../electron/engine/nbd/file-export.js';
import { NbdServer } from '../../electron/engine/nbd/server.js';
import { SourceExport } from '../../electron/engine/nbd/source-export.js';
import { fmtMBps, fmtRatio, GiB, log, mbps, MiB, now, pool, report, scaled, tempDir, verdict } from './measure.js';

/**
 * Our NBD server beside nbdkit's file plugin, same image, same run, same client (nbdcopy,
 * its defaults: multi-conn when offered, 64 requests in flight). Reads: nbdcopy of a 1 GiB
 * random image to null: (page cache warm, so the servers are what is measured). Writes:
 * nbdcopy --flush of the image into a fresh file behind each server. Best of three runs.
 */

const READ_TARGET = 0.7;
const RUNS = 3;

function exec(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))));
  });
}

async function timedCopy(args: string[]): Promise<number> {
  const t0 = now();
  await exec('nbdcopy', args);
  return now() - t0;
}

/** nbdkit's file plugin on a unix socket; resolves once it is listening. */
async function startNbdkit(dir: string, name: string, file: string, readOnly: boolean): Promise<{ uri: string; stop(): Promise<void> }> {
  const sock = join(dir, `${name}.sock`);
  const pid = join(dir, `${name}.pid`);
  const child: ChildProcess = spawn('nbdkit', ['-f', '--exit-with-parent', '-U', sock, '-P', pid, ...(readOnly ? ['-r'] : []), 'file', `file=${file}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  for (let i = 0; !existsSync(pid); i++) {
    if (i > 400 || child.exitCode !== null) {
      child.kill();
      throw new Error(`nbdkit did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    uri: `nbd+unix:///?socket=${sock}`,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('close', () => resolve());
        child.kill();
      }),
  };
}

function makeImage(path: string, size: number): void {
  const fd = openSync(path, 'w');
  const src = pool('random');
  for (let at = 0; at < size; at += src.length) writeSync(fd, src, 0, Math.min(src.length, size - at), at);
  closeSync(fd);
}

function freshFile(path: string, size: number): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, size);
  closeSync(fd);
}

async function best(runs: number, fn: () => Promise<number>): Promise<number> {
  let b = Infinity;
  for (let i = 0; i < runs; i++) b = Math.min(b, await fn());
  return b;
}

export async function benchNbd(): Promise<void> {
  const dir = tempDir('nbd');
  const size = scaled(1 * GiB, MiB);
  const image = join(dir.path, 'image.raw');
  const target = join(dir.path, 'target.raw');
  makeImage(image, size);
  freshFile(target, size);
  readFileSync(image); // warm the page cache
  const source = new FileSource(image);
  const server = new NbdServer({
    provider: new ExportTable([
      { name: 'file-ro', open: () => FileExport.open(image, { readOnly: true }) },
      { name: 'source', open: () => new SourceExport(source) },
      { name: 'file-rw', open: () => FileExport.open(target) },
    ]),
  });
  let kitRo: Awaited<ReturnType<typeof startNbdkit>> | undefined;
  let kitRw: typeof kitRo;
  try {
    const ours = await server.listen({ socket: join(dir.path, 'ours.sock') });
    kitRo = await startNbdkit(dir.path, 'kit-ro', image, true);
    kitRw = await startNbdkit(dir.path, 'kit-rw', target, false);
    const [ro, rw] = [kitRo, kitRw];
    log(`  image: ${size / MiB} MiB of random bytes, page cache warm`);
    const reads = {
      nbdkit: await best(RUNS, () => timedCopy([ro.uri, 'null:'])),
      fileRo: await best(RUNS, () => timedCopy([ours.uri('file-ro'), 'null:'])),
      source: await best(RUNS, () => timedCopy([ours.uri('source'), 'null:'])),
    };
    const writeRun = (uri: string) => async () => {
      freshFile(target, size);
      return timedCopy(['--flush', image, uri]);
    };
    const writes = {
      nbdkit: await best(RUNS, writeRun(rw.uri)),
      ours: await best(RUNS, writeRun(ours.uri('file-rw'))),
    };
    const r = (ms: number) => mbps(size, ms);
    report({
      title: 'NBD read: nbdcopy to null:, read-only exports of the same image',
      columns: ['server', 'throughput', 'vs nbdkit'],
      rows: [
        ['nbdkit file (-r)', fmtMBps(r(reads.nbdkit)), '1.00×'],
        ['ours: file export, read-only', fmtMBps(r(reads.fileRo)), fmtRatio(r(reads.fileRo), r(reads.nbdkit))],
        ['ours: source export (FileSource)', fmtMBps(r(reads.source)), fmtRatio(r(reads.source), r(reads.nbdkit))],
      ],
      notes: [`target: file export ≥ ${READ_TARGET * 100}% of nbdkit — ${verdict(r(reads.fileRo) >= READ_TARGET * r(reads.nbdkit))}`],
      data: {
        nbdkit: { mbps: r(reads.nbdkit) },
        fileRo: { mbps: r(reads.fileRo) },
        source: { mbps: r(reads.source) },
      },
    });
    report({
      title: 'NBD write: nbdcopy --flush of the image into a fresh file behind each server',
      columns: ['server', 'throughput', 'vs nbdkit'],
      rows: [
        ['nbdkit file', fmtMBps(r(writes.nbdkit)), '1.00×'],
        ['ours: file export, read-write', fmtMBps(r(writes.ours)), fmtRatio(r(writes.ours), r(writes.nbdkit))],
      ],
      data: { nbdkit: { mbps: r(writes.nbdkit) }, ours: { mbps: r(writes.ours) } },
    });
  } finally {
    await server.close();
    await kitRo?.stop();
    await kitRw?.stop();
    source.close();
    dir.remove();
  }
}
