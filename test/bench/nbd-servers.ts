import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MiB, now, pool, writeBack } from './measure.js';

/**
 * What the NBD benches (nbd, split) share: running a command, nbdkit's file plugin and a
 * `chronodisk` server as child processes, nbdcopy timed best-of-N, and test files.
 */

// dist/test/bench/nbd-servers.js -> the repository root, where bin/chronodisk.js is.
export const cli = fileURLToPath(new URL('../../../bin/chronodisk.js', import.meta.url));

export function exec(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))));
  });
}

export interface RunningServer {
  uri: string;
  /** SIGTERM; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Starts a long-running server and waits until `ready(stdout)` holds. */
async function startServer(cmd: string, args: string[], uri: string, ready: (out: string) => boolean): Promise<RunningServer> {
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  for (let i = 0; !ready(out); i++) {
    if (i > 4800 || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`${cmd} ${args.join(' ')} did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    uri,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await closed;
    },
  };
}

/** nbdkit's file plugin on a unix socket in `dir`. */
export function startNbdkit(dir: string, name: string, file: string, readOnly: boolean): Promise<RunningServer> {
  const sock = join(dir, `${name}.sock`);
  const pid = join(dir, `${name}.pid`);
  const args = ['-f', '--exit-with-parent', '-U', sock, '-P', pid, ...(readOnly ? ['-r'] : []), 'file', `file=${file}`];
  return startServer('nbdkit', args, `nbd+unix:///?socket=${sock}`, () => existsSync(pid));
}

/** `chronodisk VERB ARGS --socket SOCK --json`, ready once it has printed `marker`. */
export function startChronodisk(dir: string, name: string, args: string[], exportName: string, marker: string): Promise<RunningServer> {
  const sock = join(dir, `${name}.sock`);
  return startServer(process.execPath, [cli, ...args, '--socket', sock, '--json'], `nbd+unix:///${encodeURIComponent(exportName)}?socket=${sock}`, (o) => o.includes(marker));
}

/** The best (shortest) time of `runs` nbdcopy runs, in ms; `before` runs untimed before each. */
export async function bestCopy(runs: number, args: string[], before: () => void = () => undefined): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    before();
    writeBack();
    const t0 = now();
    await exec('nbdcopy', args);
    best = Math.min(best, now() - t0);
  }
  return best;
}

/** A file of `size` bytes: random bytes, or a sparse file of zeroes. */
export function fileOf(path: string, size: number, random: boolean): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, size);
  if (random) {
    const src = pool('random');
    for (let at = 0; at < size; at += src.length) writeSync(fd, src, 0, Math.min(src.length, size - at), at);
  }
  closeSync(fd);
}

export function fileSha256(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 * MiB);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}
