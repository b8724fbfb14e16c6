import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { lstatSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { LOCK_FILE } from '../format/constants.js';
import { ChronodiskError, isDriveFull } from '../errors.js';

export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  sinceUs: number;
  /**
   * The unix socket on which the writer answers the service contract, once it listens (a
   * running `chronodisk service`): write commands go there instead of failing as locked.
   */
  socket?: string;
}

/**
 * One writer per appliance. The lock is an exclusive SQLite lock on `writer.lock` (an fcntl
 * lock underneath): the kernel drops it when the holder dies, even by SIGKILL, so a crash
 * never leaves a stale lock. `writer.json` beside it names the holder for error messages.
 */
export class WriterLock {
  private constructor(
    private db: Db | undefined,
    private readonly dir: string,
  ) {}

  static tryAcquire(dir: string, command: string): WriterLock | LockHolder | undefined {
    const db = new Database(join(dir, LOCK_FILE), { timeout: 0 });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS held(x); COMMIT;');
    } catch (e) {
      db.close();
      if ((e as { code?: string }).code === 'SQLITE_BUSY' || /locked|busy/i.test(String(e))) return WriterLock.holder(dir);
      throw e;
    }
    const holder: LockHolder = { pid: process.pid, host: hostname(), command, sinceUs: Date.now() * 1000 };
    try {
      writeHolder(dir, holder);
    } catch (e) {
      // A drive with no byte free still needs its writer (to thin, prune or unprotect and
      // make room), so the lock is held unnamed: a second writer is told "another process".
      rmSync(join(dir, 'writer.json'), { force: true });
      if (!isDriveFull(e)) {
        db.close();
        throw e;
      }
    }
    return new WriterLock(db, dir);
  }

  static acquire(dir: string, command: string): WriterLock {
    const r = WriterLock.tryAcquire(dir, command);
    if (r instanceof WriterLock) return r;
    const who = r ? `pid ${r.pid} on ${r.host} (${r.command}, since ${new Date(r.sinceUs / 1000).toISOString()})` : 'another process';
    throw new ChronodiskError('locked', `the appliance ${dir} is in use by ${who}; stop that writer first or use a read-only command`);
  }

  static holder(dir: string): LockHolder | undefined {
    try {
      return JSON.parse(readFileSync(join(dir, 'writer.json'), 'utf8')) as LockHolder;
    } catch {
      return undefined;
    }
  }

  /**
   * The holder named in writer.json while it runs: a process of this host that still
   * exists and started before it took the lock (a crash leaves the file behind, and its
   * pid may have gone to another process since). A holder on another host cannot be asked.
   */
  static liveHolder(dir: string): LockHolder | undefined {
    const h = WriterLock.holder(dir);
    if (!h || h.host !== hostname()) return undefined;
    try {
      process.kill(h.pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
    }
    const started = processStartUs(h.pid);
    return started === undefined || started <= h.sinceUs + START_SLACK_US ? h : undefined;
  }

  /**
   * Names in writer.json the socket where this process, the writer of `dir`, now answers
   * requests (LockHolder.socket). Nothing when writer.json names no one or someone else.
   */
  static announceSocket(dir: string, path: string): void {
    const h = WriterLock.holder(dir);
    if (h?.pid !== process.pid) return;
    try {
      writeHolder(dir, { ...h, socket: path });
    } catch {
      // A full drive: writer.json stays as it was, without the socket, and write commands
      // are told to stop the writer, as before.
    }
  }

  /**
   * The socket the live holder named, when that process really listens on it (its
   * descriptors, in /proc): writer.json lies on a drive anyone may have written to, and a
   * command must not send requests to whatever socket it names.
   */
  static holderSocket(dir: string): string | undefined {
    const h = WriterLock.liveHolder(dir);
    if (h?.socket === undefined) return undefined;
    const listening = listensOn(h.pid, h.socket);
    // Another user's process (the root service, asked by a member of its socket's group):
    // its descriptors cannot be read, so the socket must be one only its user could make.
    return listening === true || (listening === 'unreadable' && placedByOwnerOf(h.pid, h.socket)) ? h.socket : undefined;
  }

  release(): void {
    if (!this.db) return;
    rmSync(join(this.dir, 'writer.json'), { force: true });
    this.db.close();
    this.db = undefined;
  }
}

/**
 * Whether process `pid` holds the listening unix socket bound at `path` (Linux: the
 * socket's inode from /proc/net/unix among the process's descriptors). 'unreadable'
 * when something listens there but the process's descriptors cannot be read (another
 * user's process); false without /proc.
 */
function listensOn(pid: number, path: string): boolean | 'unreadable' {
  try {
    const inodes = new Set<string>();
    for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
      // Num RefCount Protocol Flags Type St Inode Path (the path may hold spaces)
      const f = line.trim().split(/\s+/);
      if (f.length >= 8 && f.slice(7).join(' ') === path) inodes.add(f[6]!);
    }
    if (inodes.size === 0) return false;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EACCES' || (e as NodeJS.ErrnoException).code === 'EPERM') return 'unreadable';
      throw e;
    }
    for (const fd of fds) {
      let target = '';
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch (e) {
        // The list may be readable while the links are not (CAP_DAC_READ_SEARCH, no ptrace access).
        if ((e as NodeJS.ErrnoException).code === 'EACCES' || (e as NodeJS.ErrnoException).code === 'EPERM') return 'unreadable';
        continue; // closed meanwhile
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1]!)) return true;
    }
  } catch {
    // no /proc, or not ours to read
  }
  return false;
}

/**
 * Whether the socket at `path` can only have been made by the user process `pid` runs
 * as: the socket is that user's, in a directory that is that user's and that no group
 * or other user may write to (/run/chronodisk for the root service). A name in
 * writer.json, which anyone with the drive could write, can then lead only to a socket
 * of the writer's own user.
 */
function placedByOwnerOf(pid: number, path: string): boolean {
  try {
    const uid = /^Uid:\s+\d+\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    if (uid === undefined) return false;
    const socket = lstatSync(path);
    const parent = lstatSync(dirname(path));
    return socket.isSocket() && String(socket.uid) === uid && parent.isDirectory() && String(parent.uid) === uid && (parent.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** Writes writer.json whole or not at all (a reader never sees half of it). */
function writeHolder(dir: string, holder: LockHolder): void {
  const tmp = join(dir, 'writer.json.tmp');
  try {
    writeFileSync(tmp, `${JSON.stringify(holder)}\n`);
    renameSync(tmp, join(dir, 'writer.json'));
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * How much later than the lock a holder may seem to have started: /proc's start times
 * move with steps of the wall clock. A pid reused within a minute of the lock being taken
 * is the rarer mistake (it only changes a check note's wording either way).
 */
const START_SLACK_US = 60_000_000;

/** When process `pid` started, in µs since the epoch, from /proc (Linux); undefined elsewhere. */
function processStartUs(pid: number): number | undefined {
  try {
    // Field 22 of /proc/PID/stat, in clock ticks since boot (USER_HZ, 100 on Linux); the
    // command name before it is in parentheses and may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const boot = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(ticks) || !Number.isFinite(boot)) return undefined;
    return boot * 1_000_000 + ticks * 10_000;
  } catch {
    return undefined;
  }
}
