/**
 * Shared pieces for the NBD tests: temp dirs, random images, running real clients without
 * blocking the event loop (the server under test lives in this same process).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(prefix = 'chronodisk-nbd-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An image of random bytes with a few zero stretches (so sparse paths get exercised). */
export function writeRandomImage(path: string, size: number): Buffer {
  const data = randomBytes(size);
  for (let at = 1 << 20; at + 65536 < size; at += 3 << 20) data.fill(0, at, at + 65536);
  writeFileSync(path, data);
  return data;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function fileSha256(path: string): string {
  return sha256(readFileSync(path));
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program asynchronously; never throws on a non-zero exit (callers assert). */
export function run(cmd: string, args: string[], options: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof (err as NodeJS.ErrnoException).code === 'string') return reject(err);
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Like run, but fails loudly with the program's stderr when it exits non-zero. */
export async function runOk(cmd: string, args: string[], options: { timeoutMs?: number } = {}): Promise<string> {
  const r = await run(cmd, args, options);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** nbdsh runs `python3` from PATH, which may lack the nbd module; Debian's python3 has it. */
export function nbdsh(uri: string, script: string): Promise<RunResult> {
  return run('/usr/bin/python3', ['-m', 'nbd', '-u', uri, '-c', script]);
}

/** Polls `cond` every 50 ms; fails after `ms` naming `what`. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A directory tree of random files: `dirs` nested folders of `files` files, up to `maxBytes` each. */
export function makeTree(dir: string, dirs: number, files: number, maxBytes: number): void {
  for (let d = 0; d < dirs; d++) {
    const sub = join(dir, `dir${d}`, `nested${d % 2}`);
    mkdirSync(sub, { recursive: true });
    for (let i = 0; i < files; i++) writeFileSync(join(sub, `file${i}.bin`), randomBytes(1 + ((d * files + i) * 7919) % maxBytes));
  }
}
