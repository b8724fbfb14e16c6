import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ChronodiskError, fromFsError } from '../errors.js';

const run = promisify(execFile);

/**
 * tracefs: mounting it, and tracing instances of our own. An instance is a private ring
 * buffer with its own event switches and filters, so we never disturb the global trace
 * or another tool's. Instances are named chronodisk-<pid>-<name> so that one left by a
 * crashed process can be recognised and removed.
 */

export const TRACEFS_ROOT = '/sys/kernel/tracing';
const PREFIX = 'chronodisk-';

/** Mounts tracefs at /sys/kernel/tracing unless it is there already; returns its path. */
export async function ensureTracefs(root = TRACEFS_ROOT): Promise<string> {
  if (existsSync(join(root, 'instances'))) return root;
  try {
    await run('mount', ['-t', 'tracefs', 'nodev', root]);
  } catch (e) {
    const text = String((e as { stderr?: unknown }).stderr ?? e);
    if (/permission denied|must be superuser|not permitted/i.test(text)) {
      throw new ChronodiskError('permission', `mounting tracefs at ${root} needs root (track mode runs as root)`, { cause: e });
    }
    // Someone may have mounted it meanwhile.
    if (existsSync(join(root, 'instances'))) return root;
    throw new ChronodiskError('io', `cannot mount tracefs at ${root}: ${text.trim().split('\n').pop()}`, { cause: e });
  }
  if (!existsSync(join(root, 'instances'))) {
    throw new ChronodiskError('not-found', `this kernel has no tracing instances under ${root} (CONFIG_FTRACE?)`);
  }
  return root;
}

/** chronodisk-<pid>-<name>, with the name reduced to characters tracefs accepts. */
export function instanceName(name: string, pid = process.pid): string {
  return `${PREFIX}${pid}-${name.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/** The pid in an instance name of ours, or undefined for anything else. */
export function instancePid(dirName: string): number | undefined {
  const m = /^chronodisk-(\d+)-/.exec(dirName);
  return m ? Number(m[1]) : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class TraceInstance {
  private constructor(
    readonly name: string,
    readonly dir: string,
  ) {}

  /** Creates instances/<name> under a mounted tracefs; `bufferKb` is the per-CPU ring size. */
  static create(root: string, name: string, opts: { bufferKb?: number } = {}): TraceInstance {
    const dir = join(root, 'instances', name);
    try {
      mkdirSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new ChronodiskError('busy', `tracing instance ${name} already exists`);
      if (code === 'EACCES' || code === 'EPERM') {
        throw new ChronodiskError('permission', `track mode needs root: creating a tracing instance under ${root} was refused`, { cause: e });
      }
      throw fromFsError(e, dir);
    }
    const inst = new TraceInstance(name, dir);
    try {
      if (opts.bufferKb) inst.write('buffer_size_kb', String(opts.bufferKb));
    } catch (e) {
      inst.remove();
      throw e;
    }
    return inst;
  }

  write(file: string, value: string): void {
    writeFileSync(join(this.dir, file), value);
  }

  /** Sets an event's filter; false if the kernel's parser rejected it. */
  trySetFilter(event: string, filter: string): boolean {
    try {
      this.write(`events/${event}/filter`, filter);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EINVAL') return false;
      throw fromFsError(e, `${this.dir}/events/${event}/filter`);
    }
  }

  enable(event: string): void {
    this.write(`events/${event}/enable`, '1');
  }

  get pipePath(): string {
    return join(this.dir, 'trace_pipe');
  }

  /** Events the ring buffer had to throw away so far, summed over CPUs (per_cpu/cpuN/stats). */
  lostCount(): number {
    return lostCountIn(this.dir);
  }

  /** Disables every event, clears filters, removes the instance. Safe to call twice. */
  remove(): void {
    removeInstanceDir(this.dir);
  }
}

export function lostCountIn(dir: string): number {
  let total = 0;
  let cpus: string[] = [];
  try {
    cpus = readdirSync(join(dir, 'per_cpu'));
  } catch {
    return 0;
  }
  for (const cpu of cpus) {
    let text: string;
    try {
      text = readFileSync(join(dir, 'per_cpu', cpu, 'stats'), 'utf8');
    } catch {
      continue;
    }
    for (const m of text.matchAll(/^(overrun|commit overrun|dropped events): (\d+)$/gm)) total += Number(m[2]);
  }
  return total;
}

/**
 * Tears an instance down the way the kernel wants: events off and filters cleared before
 * rmdir (which fails with EBUSY while anything is enabled or trace_pipe is open).
 */
export function removeInstanceDir(dir: string): void {
  if (!existsSync(dir)) return;
  // The events we may have switched on: whatever is enabled now, and ours.
  const events = new Set(['block:block_rq_complete']);
  try {
    for (const line of readFileSync(join(dir, 'set_event'), 'utf8').split('\n')) if (line.includes(':')) events.add(line.trim());
  } catch {
    // best effort: rmdir below says whether it worked
  }
  try {
    writeFileSync(join(dir, 'events/enable'), '0');
  } catch {
    // idem
  }
  for (const ev of events) {
    const filter = join(dir, 'events', ...ev.split(':'), 'filter');
    try {
      writeFileSync(filter, '0');
    } catch {
      // idem
    }
  }
  // A read of trace_pipe that was in flight on a pool thread when the pipe was closed
  // keeps the file open until it returns (it never blocks: O_NONBLOCK), and rmdir says
  // EBUSY meanwhile. Exit handlers cannot await it, so wait here, briefly and synchronously.
  const deadline = Date.now() + 1000;
  for (;;) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() >= deadline) throw fromFsError(e, dir);
      Atomics.wait(pauseCell, 0, 0, 5);
    }
  }
}

/** Something to Atomics.wait on for a synchronous pause; nobody ever notifies it. */
const pauseCell = new Int32Array(new SharedArrayBuffer(4));

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
}

/** Our instances whose process is gone (a crash, SIGKILL): removed; returns their names. */
export function removeStaleInstances(root = TRACEFS_ROOT): string[] {
  const removed: string[] = [];
  for (const name of safeReaddir(join(root, 'instances'))) {
    const pid = instancePid(name);
    if (pid === undefined || pid === process.pid || isAlive(pid)) continue;
    try {
      removeInstanceDir(join(root, 'instances', name));
      removed.push(name);
    } catch {
      // a reader still has it open; the next start tries again
    }
  }
  return removed;
}

/** Instances of ours currently present (for tests and diagnostics). */
export function listOurInstances(root = TRACEFS_ROOT): string[] {
  return safeReaddir(join(root, 'instances')).filter((n) => n.startsWith(PREFIX));
}
