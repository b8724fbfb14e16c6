/** `chronodisk ui` as a child process: started on an appliance, its URL read from --json, stopped with SIGTERM. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { cliPath } from '../helpers/cli.js';

export interface UiService {
  url: string;
  child: ChildProcess;
  /** Everything it wrote to stderr (for a failing test's message). */
  stderr(): string;
  stop(): Promise<void>;
}

export async function startUi(app: string, splitDir: string): Promise<UiService> {
  const child = spawn(process.execPath, [cliPath, 'ui', '-a', app, '--json', '--port', '0', '--split-dir', splitDir, '--no-idle'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CHRONODISK_DEBUG: '' },
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`chronodisk ui printed no URL in 60 s: ${err}`)), 60_000);
      child.once('exit', (code) => reject(new Error(`chronodisk ui exited ${code}: ${err}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let m: { event?: string; url?: string };
        try {
          m = JSON.parse(line) as typeof m;
        } catch {
          return;
        }
        if (m.event === 'listening' && m.url) {
          clearTimeout(timer);
          resolve(m.url);
        }
      });
    });
    return { url, child, stderr: () => err, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
