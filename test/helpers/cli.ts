import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const cliPath = `${repoRoot}bin/chronodisk.js`;

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `chronodisk` command, as a user would, without a TTY. */
export function runCli(args: string[], options: SpawnSyncOptions & { env?: NodeJS.ProcessEnv } = {}): CliResult {
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
    ...options,
    env: { ...process.env, CHRONODISK_DEBUG: '', ...options.env },
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Runs the CLI and parses its --json output, failing loudly with stderr when it did not succeed. */
export function runCliJson<T = unknown>(args: string[], options: SpawnSyncOptions & { env?: NodeJS.ProcessEnv } = {}): T {
  const r = runCli([...args, '--json'], options);
  if (r.status !== 0) throw new Error(`chronodisk ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
