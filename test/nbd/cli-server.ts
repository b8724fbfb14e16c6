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
  /** Sends `signal` (default SIGTERM) unless it has exited; resolves with the exit code (null: died of a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGTERM, and it must exit 0: otherwise throws with how it ended and its stderr. */
  stopCleanly(): Promise<void>;
}

/** Starts `chronodisk ARGS --json`; resolves once `ready(stdout)` returns a value. */
export async function startCliServer<T>(args: string[], ready: (stdout: string) => T | undefined, timeoutMs = 20_000): Promise<CliServer & { info: T }> {
  const child = spawn(process.execPath, [cliPath, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CHRONODISK_DEBUG: '1' } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  // 'close', not 'exit': by then stdout and stderr are read to the end.
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  const what = `chronodisk ${args.join(' ')}`;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return (await ended).code;
  };
  const server: CliServer = {
    child,
    stdout: () => out,
    stderr: () => err,
    stop,
    stopCleanly: async () => {
      await stop('SIGTERM');
      const { code, signal } = await ended;
      if (code !== 0) throw new Error(`${what} did not stop cleanly on SIGTERM (exit code ${code}, signal ${signal}); stderr:\n${err || '(empty)'}`);
    },
  };
  const until = Date.now() + timeoutMs;
  for (;;) {
    const info = ready(out);
    if (info !== undefined) return { ...server, info };
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready; stderr:\n${err}`);
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`${what} never became ready; stderr:\n${err}`);
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
