import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { log, now } from './measure.js';

/** Which pass of the capture bench: the baseline copy, nothing changed, 1% of blocks changed. */
export type PassKind = 'first' | 'unchanged' | 'changed';

/** What a user would pick instead of us, backing up the same image file. */
export interface BackupTool {
  name: string;
  version: string;
  /** One backup of the image: wall and CPU milliseconds, or undefined when it failed (said in the log). */
  backup(pass: PassKind): Timing | undefined;
  /** Bytes of its repository. */
  repoBytes(): number;
}

export const INSTALL_HINT = 'apt-get install restic borgbackup';
export const RESTIC_NAME = 'restic backup (encrypted)';
export const BORG_NAME = 'borg create (lz4, unencrypted)';

function installed(cmd: string): boolean {
  return spawnSync('which', [cmd]).status === 0;
}

export interface Timing {
  ms: number;
  /** User + system CPU time of every thread; NaN where it could not be measured. */
  cpuMs: number;
}

/** Runs the tool; its CPU time comes from /usr/bin/time where that is installed. */
function timedRun(cmd: string, args: string[], env: Record<string, string>, dir: string): Timing | undefined {
  const cpuFile = join(dir, 'cpu-time');
  const wrap = existsSync('/usr/bin/time');
  const t0 = now();
  const r = wrap
    ? spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', cpuFile, cmd, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
    : spawnSync(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = now() - t0;
  if (r.status !== 0) {
    log(`  ${cmd} ${args[0]} failed: ${r.stderr.split('\n')[0]}`);
    return undefined;
  }
  const [user, system] = wrap ? readFileSync(cpuFile, 'utf8').trim().split(/\s+/).map(Number) : [NaN, NaN];
  return { ms, cpuMs: (user! + system!) * 1000 };
}

function duBytes(path: string): number {
  return Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);
}

/**
 * restic (always encrypted; repository v2 compresses with zstd "auto"). Later passes use
 * --force: restic would otherwise skip a file whose size and mtime look unchanged, which a
 * disk, having no mtime, cannot offer; we read the whole disk, so restic reads the whole image.
 */
export function restic(dir: string, image: string): BackupTool | undefined {
  if (!installed('restic')) return undefined;
  const repo = join(dir, 'restic');
  const env = { RESTIC_PASSWORD: 'bench passphrase', RESTIC_REPOSITORY: repo, RESTIC_CACHE_DIR: join(dir, 'restic-cache') };
  execFileSync('restic', ['init', '--quiet'], { env: { ...process.env, ...env } });
  return {
    name: RESTIC_NAME,
    version: execFileSync('restic', ['version'], { encoding: 'utf8' }).split(' ').slice(0, 2).join(' '),
    backup: (pass) => timedRun('restic', ['backup', '--quiet', ...(pass === 'first' ? [] : ['--force']), image], env, dir),
    repoBytes: () => duBytes(repo),
  };
}

/** borg create, lz4, unencrypted; later passes without the files cache (re-read, as restic --force). */
export function borg(dir: string, image: string): BackupTool | undefined {
  if (!installed('borg')) return undefined;
  const repo = join(dir, 'borg');
  const env = { BORG_PASSPHRASE: '', BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes', BORG_BASE_DIR: join(dir, 'borg-base') };
  mkdirSync(env.BORG_BASE_DIR, { recursive: true });
  execFileSync('borg', ['init', '--encryption=none', repo], { env: { ...process.env, ...env } });
  return {
    name: BORG_NAME,
    version: execFileSync('borg', ['--version'], { encoding: 'utf8' }).trim(),
    backup: (pass) => timedRun('borg', ['create', '--compression', 'lz4', ...(pass === 'first' ? [] : ['--files-cache', 'disabled']), `${repo}::${pass}`, image], env, dir),
    repoBytes: () => duBytes(repo),
  };
}
