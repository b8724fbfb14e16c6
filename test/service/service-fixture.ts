import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { expect } from 'vitest';
import type { ContractClient } from '../../shared/contract-client.js';
import type { EventChannel, EventOf, Job } from '../../shared/contract.js';
import { connectService } from '../../electron/service/service-socket-client.js';
import { attachLoop, makeImage, sh, type Loop } from '../devices/loop-device.js';
import { cliPath, runCli } from '../helpers/cli.js';

/** Test fixtures for the service: real loop devices with ext4, a real `chronodisk service` process, real socket clients. */

export const MiB = 1024 * 1024;

export type LogLine = Record<string, unknown>;

export interface ServiceProcess {
  child: ChildProcess;
  lines: LogLine[];
  stderr: () => string;
  /** The first log line matching, waiting for it. */
  waitFor(pred: (l: LogLine) => boolean, ms?: number): Promise<LogLine>;
  /** Sends the signal and waits for the process to end; resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `chronodisk VERB -a APP --json …` and waits for its `started` line. */
export async function startServiceProcess(args: string[], verb = 'service'): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [cliPath, verb, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CHRONODISK_DEBUG: '' } });
  const lines: LogLine[] = [];
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(JSON.parse(l) as LogLine));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const p: ServiceProcess = {
    child,
    lines,
    stderr: () => err,
    async waitFor(pred, ms = 60_000) {
      const until = Date.now() + ms;
      for (;;) {
        const hit = lines.find(pred);
        if (hit) return hit;
        if (Date.now() > until || child.exitCode !== null) throw new Error(`no matching line within ${ms} ms; got ${JSON.stringify(lines)}; stderr: ${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
  await p.waitFor((l) => l.event === 'started');
  return p;
}

/** An ext4 filesystem on a loop device over a sparse image, with `files` written into it (then unmounted). */
export function ext4Loop(dir: string, name: string, sizeMiB: number, files: Record<string, string | Buffer> = {}): Loop {
  const loop = attachLoop(makeImage(join(dir, `${name}.img`), sizeMiB * MiB));
  try {
    sh('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', loop.device]);
    if (Object.keys(files).length) writeFiles(loop.device, join(dir, `${name}.mnt`), files);
  } catch (e) {
    loop.detach();
    throw e;
  }
  return loop;
}

/** Mounts a device, writes files (creating folders), syncs and unmounts it. */
export function writeFiles(device: string, mnt: string, files: Record<string, string | Buffer>): void {
  mkdirSync(mnt, { recursive: true });
  sh('mount', [device, mnt]);
  try {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(mnt, path, '..'), { recursive: true });
      writeFileSync(join(mnt, path), content);
    }
    sh('sync', []);
  } finally {
    sh('umount', [mnt]);
  }
}

/** An appliance on its own loop-mounted ext4 (so "the appliance's disk" is a real device). */
export function applianceOnLoop(dir: string, sizeMiB = 512): { loop: Loop; mnt: string; app: string; unmount(): void } {
  const loop = ext4Loop(dir, 'appfs', sizeMiB);
  const mnt = join(dir, 'appfs');
  mkdirSync(mnt, { recursive: true });
  sh('mount', [loop.device, mnt]);
  const app = join(mnt, 'appliance');
  const r = runCli(['init', app]);
  expect(r.status, r.stderr).toBe(0);
  return { loop, mnt, app, unmount: () => void runQuiet('umount', [mnt]) };
}

export function runQuiet(cmd: string, args: string[]): boolean {
  try {
    sh(cmd, args);
    return true;
  } catch {
    return false;
  }
}

/** sha256 of every truth file of an appliance (segments, catalog, header, hash caches); the index and lock files are caches. */
export function applianceHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (!/^(index\.sqlite|writer\.)/.test(name)) h.update(p).update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

export const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export async function client(socket: string): Promise<ContractClient> {
  return connectService(socket);
}

/** The next event on a channel that matches, within `ms`. */
export function nextEvent<E extends EventChannel>(c: ContractClient, channel: E, pred: (p: EventOf<E>) => boolean = () => true, ms = 60_000): Promise<EventOf<E>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${channel} event within ${ms} ms`));
    }, ms);
    const off = c.on(channel, (p) => {
      if (!pred(p)) return;
      clearTimeout(timer);
      off();
      resolve(p);
    });
  });
}

/** Collects every event of a channel from now on. */
export function collect<E extends EventChannel>(c: ContractClient, channel: E): Array<EventOf<E>> {
  const out: Array<EventOf<E>> = [];
  c.on(channel, (p) => out.push(p));
  return out;
}

/**
 * Sends raw lines on a fresh connection to the socket — no client-side validation — and
 * returns the reply lines (parsed) once `count` have arrived, or whatever came when the
 * connection closed.
 */
export function rawExchange(socket: string, lines: Array<string | Buffer>, count = lines.length, ms = 20_000): Promise<{ replies: Array<Record<string, unknown>>; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = netConnect(socket);
    const replies: Array<Record<string, unknown>> = [];
    let buf = '';
    let closed = false;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`only ${replies.length} of ${count} replies within ${ms} ms: ${JSON.stringify(replies)}`));
    }, ms);
    const finish = () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ replies, closed });
    };
    s.on('connect', () => {
      for (const l of lines) s.write(l);
    });
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        replies.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
        buf = buf.slice(nl + 1);
      }
      if (replies.filter((r) => r.type === 'response').length >= count) finish();
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      closed = true;
      finish();
    });
  });
}

/** One request sent raw (the payload unchecked by any client), its response. */
export async function rawRequest(socket: string, channel: string, payload: unknown): Promise<Record<string, unknown>> {
  const { replies } = await rawExchange(socket, [`${JSON.stringify({ type: 'request', id: 1, channel, payload })}\n`]);
  const r = replies.find((x) => x.type === 'response');
  if (!r) throw new Error(`no response to ${channel}`);
  return r;
}

/**
 * Every jobProgress event from now on, and a wait for a job's end that also finds it in
 * what already arrived: a short job can end in the same packet as the response that
 * named it, before the caller could subscribe.
 */
export function watchJobs(c: ContractClient): { all: Job[]; finished(id: string, ms?: number): Promise<Job> } {
  const all: Job[] = [];
  const waiters: Array<() => void> = [];
  c.on('jobProgress', (j) => {
    all.push(j);
    for (const w of waiters.splice(0)) w();
  });
  return {
    all,
    async finished(id, ms = 120_000) {
      const until = Date.now() + ms;
      for (;;) {
        const end = all.find((j) => j.id === id && j.finishedUs !== undefined);
        if (end) return end;
        if (Date.now() > until) throw new Error(`job ${id} did not finish within ${ms} ms; saw ${JSON.stringify(all.filter((j) => j.id === id).at(-1))}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    },
  };
}
