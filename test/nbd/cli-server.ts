/**
 * A `chronodisk serve` or `chronodisk split` child process for the NBD integration tests:
 * started with --json, awaited until it prints where it listens, stopped with a signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cliPath } from '../helpers/cli.js';

export interface CliServer {
  child: ChildProcess;
  /** Everything printed so far on stdout. */
  stdout(): string;
  stderr(): string;
  /** SIGTERM (clean stop) or SIGKILL; resolves with the exit code once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `chronodisk ARGS --json`; resolves once `ready(stdout)` returns a value. */
export async function startCliServer<T>(args: string[], ready: (stdout: string) => T | undefined, timeoutMs = 20_000): Promise<CliServer & { info: T }> {
  const child = spawn(process.execPath, [cliPath, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CHRONODISK_DEBUG: '' } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const server: CliServer = {
    child,
    stdout: () => out,
    stderr: () => err,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  const until = Date.now() + timeoutMs;
  for (;;) {
    const info = ready(out);
    if (info !== undefined) return { ...server, info };
    if (child.exitCode !== null) throw new Error(`chronodisk ${args.join(' ')} exited ${child.exitCode}: ${err}`);
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`chronodisk ${args.join(' ')} never listened: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `serve --json` prints one pretty JSON document. */
export function parseWhole<T>(out: string): T | undefined {
  try {
    return JSON.parse(out) as T;
  } catch {
    return undefined;
  }
}

/** `split --json` prints JSON lines; the first is {event: 'listening', uri, ...}. */
export function jsonLines(out: string): Array<Record<string, unknown>> {
  return out.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
}
