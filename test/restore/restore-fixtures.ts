import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { expect } from 'vitest';
import { cliPath, runCli } from '../helpers/cli.js';

/** Helpers for the restore suites: kernel write counters, hashes, journals, killable runs. */

export const MiB = 1024 * 1024;

/** Bytes the kernel has written to a whole device (field 7 of /sys/block/NAME/stat: sectors written). */
export function bytesWrittenTo(device: string): number {
  const fields = readFileSync(`/sys/block/${basename(device)}/stat`, 'utf8').trim().split(/\s+/);
  return Number(fields[6]) * 512;
}

/** sha256 of a file or device (sha256sum streams; a 1 GiB device never sits in memory). */
export function sha256Of(path: string, bytes?: number): string {
  const r =
    bytes === undefined
      ? spawnSync('sha256sum', [path], { encoding: 'utf8' })
      : spawnSync('bash', ['-c', `head -c ${bytes} "$1" | sha256sum`, 'sh', path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sha256sum ${path}: ${r.stderr}`);
  return r.stdout.split(' ')[0]!;
}

/**
 * sha256 of a device's bytes as they are on the medium, read with O_DIRECT: a mounted ext4
 * fills the page cache with bitmaps it initialised in memory (prefetch), which a cached read
 * would see as changes nobody wrote.
 */
export function onDiskSha(device: string): string {
  const r = spawnSync('bash', ['-c', 'sync && dd if="$1" iflag=direct bs=1M status=none | sha256sum', 'sh', device], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sha256 of ${device}: ${r.stderr}`);
  return r.stdout.split(' ')[0]!;
}

/** sha256 of the disk as the appliance holds it at `seq` (exported to a sparse file). */
export function imageSha(app: string, disk: string, seq: number, dir: string): string {
  const out = join(dir, `image-${seq}.img`);
  const r = runCli(['image', disk, '--at', String(seq), '--out', out, '--force', '-a', app]);
  expect(r.status, r.stderr).toBe(0);
  const sha = sha256Of(out);
  spawnSync('rm', ['-f', out]);
  return sha;
}

export interface JournalFile {
  id: string;
  kind: string;
  watermark: number;
  total: number;
  target: string;
}

export function journals(app: string): JournalFile[] {
  const dir = join(app, 'jobs');
  if (!existsSync(dir)) return [];
  const out: JournalFile[] = [];
  for (const n of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    try {
      out.push(JSON.parse(readFileSync(join(dir, n), 'utf8')) as JournalFile);
    } catch {
      // being renamed into place
    }
  }
  return out;
}

/** Starts the CLI in the background (no TTY), collecting its output. */
export function startCli(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** ext4 with inode tables and journal written at mkfs time, so no lazy init writes later. */
export function mkfsExt4(device: string): void {
  const r = spawnSync('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', device], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mkfs.ext4: ${r.stderr}`);
}

export function fsckClean(device: string): void {
  const r = spawnSync('e2fsck', ['-fn', device], { encoding: 'utf8' });
  expect(r.status, `e2fsck -fn ${device}:\n${r.stdout}${r.stderr}`).toBe(0);
}
