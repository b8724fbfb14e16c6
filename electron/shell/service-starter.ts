/**
 * Starts the privileged service for a person at the desktop, who is not root: through
 * systemd when chronodisk.service is installed (systemctl asks polkit, whose agent asks
 * for a password unless resources/linux/50-chronodisk.rules lets the person in), else
 * through pkexec (`pkexec chronodisk service`, the action in
 * resources/linux/dev.chronodisk.service.policy). Either way the answer is one line.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ServiceError } from '../../shared/contract-client.js';
import type { ServiceStart } from '../../shared/contract.js';

export const SERVICE_UNIT = 'chronodisk.service';
/** Where the deb links the chronodisk command (the polkit action names this path). */
export const INSTALLED_CLI = '/usr/bin/chronodisk';

export interface ServiceStarterOptions {
  /** The chronodisk command line that `service` is appended to, run as root by pkexec. */
  cli: string[];
  /** Waits for the service's socket to answer (ServiceConnection.whenConnected, after connectNow). */
  connected(timeoutMs: number): Promise<boolean>;
  socketPath: string;
  /** PATH and the rest for systemctl and pkexec. */
  env?: NodeJS.ProcessEnv;
  /** How long the socket may take to answer once systemd started the unit. */
  systemdWaitMs?: number;
  /** How long pkexec may take, a password dialog included. */
  pkexecWaitMs?: number;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: NodeJS.ErrnoException;
}

export class ServiceStarter {
  private running: Promise<ServiceStart> | undefined;

  constructor(private readonly options: ServiceStarterOptions) {}

  /** Starts the service; a second call while one runs waits for the same start. */
  start(): Promise<ServiceStart> {
    this.running ??= this.startOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async startOnce(): Promise<ServiceStart> {
    return (await this.unitInstalled()) ? this.startUnit() : this.startWithPkexec();
  }

  private async unitInstalled(): Promise<boolean> {
    const r = await this.run('systemctl', ['show', '--property=LoadState', '--value', SERVICE_UNIT]);
    return r.code === 0 && r.stdout.trim() === 'loaded';
  }

  private async startUnit(): Promise<ServiceStart> {
    const r = await this.run('systemctl', ['start', SERVICE_UNIT]);
    if (r.code !== 0) {
      const line = firstLine(r.stderr) || `systemctl exited with code ${r.code}`;
      const denied = /access denied|not authori[sz]ed|authentication|interactive/i.test(line);
      throw new ServiceError(denied ? 'permission' : 'io', `could not start ${SERVICE_UNIT}: ${line}`);
    }
    if (await this.options.connected(this.options.systemdWaitMs ?? 15_000)) return { how: 'systemd', message: `Started ${SERVICE_UNIT}` };
    throw new ServiceError('io', `${SERVICE_UNIT} started but nothing answers at ${this.options.socketPath}; see: journalctl -u ${SERVICE_UNIT}`);
  }

  private startWithPkexec(): Promise<ServiceStart> {
    const [program, ...rest] = [...this.options.cli, 'service'];
    return new Promise((resolve, reject) => {
      let stderr = '';
      let settled = false;
      const settle = (f: () => void) => {
        if (settled) return;
        settled = true;
        f();
      };
      // pkexec keeps running as the service: it is left running when the app quits.
      const child = spawn('pkexec', [program!, ...rest], { env: this.options.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (s: string) => {
        if (stderr.length < 4096) stderr += s;
      });
      child.once('error', (e: NodeJS.ErrnoException) =>
        settle(() =>
          reject(
            e.code === 'ENOENT'
              ? new ServiceError('not-found', 'pkexec is not installed and no chronodisk.service unit is; start the service with: sudo chronodisk service')
              : new ServiceError('io', `could not run pkexec: ${e.message}`),
          ),
        ),
      );
      child.once('exit', (code) =>
        settle(() => {
          // 126: the dialog was dismissed; 127: not authorised (pkexec(1)).
          if (code === 126 || code === 127) reject(new ServiceError('permission', 'starting the Chronodisk service was not authorised (the password dialog was dismissed or refused)'));
          else reject(new ServiceError('io', `the Chronodisk service stopped at once (exit code ${code}): ${firstLine(stderr) || 'it printed nothing'}`));
        }),
      );
      child.unref();
      void this.options.connected(this.options.pkexecWaitMs ?? 120_000).then((up) =>
        settle(() => {
          if (up) resolve({ how: 'pkexec', message: 'Started the Chronodisk service' });
          else reject(new ServiceError('io', `pkexec ran the Chronodisk service but nothing answers at ${this.options.socketPath}`));
        }),
      );
    });
  }

  private run(command: string, args: string[]): Promise<Ran> {
    return new Promise((resolve) => {
      const child = spawn(command, args, { env: this.options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
      child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, stdout, stderr, error }));
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });
  }
}

/** The chronodisk command line for pkexec, for how this app is installed. */
export function serviceCommandLine(where: { packaged: boolean; execPath: string; appRoot: string; nodePath?: string; installedCli?: string }): string[] {
  const installed = where.installedCli ?? INSTALLED_CLI;
  if (where.packaged && existsSync(installed)) return [installed];
  const script = join(where.appRoot, 'bin', 'chronodisk.js');
  // The AppImage: Electron's own binary runs the CLI as plain Node (as resources/linux/chronodisk does).
  if (where.packaged) return ['/usr/bin/env', 'ELECTRON_RUN_AS_NODE=1', where.execPath, script];
  // From a checkout (npm run start:app): the native addons are built for Node, so Node runs it.
  return [where.nodePath ?? 'node', script];
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}
