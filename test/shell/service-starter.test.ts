/**
 * Starting the service from the desktop app.
 *
 * STAND-INS: `systemctl` and `pkexec` are small shell scripts on PATH that record their
 * arguments and act as the real ones answer (exit codes and messages of systemd 252 and
 * polkit 122): polkit needs a running polkitd and a desktop agent to ask for a password,
 * which this machine has not. REAL: the processes the starter spawns, and the service
 * socket it waits for (the pkexec stand-in starts a real service on it).
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ServiceConnection } from '../../electron/shell/service-connection.js';
import { ServiceStarter, serviceCommandLine, serviceGroup } from '../../electron/shell/service-starter.js';
import { repoRoot } from '../helpers/cli.js';
import { ServicePeer } from './service-peer.js';

let dir: string;
let peer: ServicePeer;
let connection: ServiceConnection;

function tool(name: string, body: string): void {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\necho "$0 $*" >> "${dir}/calls"\n${body}\n`);
  chmodSync(file, 0o755);
}

function starter(extra: Partial<ConstructorParameters<typeof ServiceStarter>[0]> = {}) {
  return new ServiceStarter({
    cli: ['/usr/bin/chronodisk'],
    socketPath: peer.path,
    group: 'chronodisk',
    appliance: '/media/backup/appliance',
    env: { ...process.env, PATH: `${dir}:/usr/bin:/bin` },
    connected: async (ms) => {
      await connection.connectNow();
      return connection.whenConnected(ms);
    },
    systemdWaitMs: 3000,
    pkexecWaitMs: 3000,
    ...extra,
  });
}

/** Brings the real service socket up once the stand-in has left the file `marker` (what the real tool would have started). */
function startPeerOnce(marker: string): NodeJS.Timeout {
  const poll = setInterval(() => {
    if (!existsSync(join(dir, marker))) return;
    clearInterval(poll);
    void peer.start();
  }, 10);
  return poll;
}

const calls = () => readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n').map((l) => l.replace(`${dir}/`, ''));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'starter-'));
  writeFileSync(join(dir, 'calls'), '');
  peer = new ServicePeer(join(dir, 'service.sock'));
  connection = new ServiceConnection({ socketPath: peer.path, retryMs: 20 });
  connection.start();
});

afterEach(async () => {
  connection.close();
  await peer.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('ServiceStarter', () => {
  it('starts chronodisk.service through systemd when the unit is installed, and waits for its socket', async () => {
    // The unit "starts" the service: the test brings the real socket up when systemctl is asked.
    tool('systemctl', `case "$1" in show) echo loaded ;; start) touch "${dir}/started" ;; esac`);
    const s = starter();
    const started = s.start();
    const poll = startPeerOnce('started');
    expect(await started).toEqual({ how: 'systemd', message: 'Started chronodisk.service' });
    clearInterval(poll);
    expect(calls()).toEqual(['systemctl show --property=LoadState --value chronodisk.service', 'systemctl start chronodisk.service']);
    expect(connection.state.state).toBe('connected');
  });

  it("says in one line why systemd would not start it (polkit's refusal is a permission error)", async () => {
    tool('systemctl', `case "$1" in show) echo loaded ;; start) echo "Failed to start chronodisk.service: Access denied" >&2; echo "See system logs and 'systemctl status chronodisk.service' for details." >&2; exit 1 ;; esac`);
    await expect(starter().start()).rejects.toMatchObject({ code: 'permission', message: 'could not start chronodisk.service: Failed to start chronodisk.service: Access denied' });
  });

  it('uses pkexec when no unit is installed, and is done when the service answers', async () => {
    tool('systemctl', 'echo not-found');
    // pkexec runs the command as root: here the stand-in brings the real socket up and stays, as the service does.
    tool('pkexec', 'echo $$ > "$(dirname "$0")/pkexec-ran"; exec sleep 30');
    const s = starter();
    const started = s.start();
    const poll = startPeerOnce('pkexec-ran');
    expect(await started).toEqual({ how: 'pkexec', message: 'Started the Chronodisk service' });
    clearInterval(poll);
    expect(calls()).toContain(`pkexec /usr/bin/chronodisk service --socket ${peer.path} --group chronodisk --appliance /media/backup/appliance`);
    // The stand-in stays running as the service would; it was started by this test.
    const pid = Number(readFileSync(join(dir, 'pkexec-ran'), 'utf8'));
    expect(pid).toBeGreaterThan(1);
    process.kill(pid, 'SIGTERM');
  });

  it('reports a dismissed password dialog (pkexec exit 126) and a service that stops at once', async () => {
    tool('systemctl', 'exit 1'); // no systemd at all
    tool('pkexec', 'exit 126');
    await expect(starter().start()).rejects.toMatchObject({ code: 'permission', message: expect.stringMatching(/^starting the Chronodisk service was not authorised/) });
    tool('pkexec', 'echo "chronodisk: no appliance configured; set CHRONODISK_APPLIANCE" >&2; exit 1');
    await expect(starter().start()).rejects.toMatchObject({ code: 'io', message: 'the Chronodisk service stopped at once (exit code 1): chronodisk: no appliance configured; set CHRONODISK_APPLIANCE' });
  });

  it('says what to do when neither systemd nor pkexec is there', async () => {
    await expect(starter({ env: { PATH: dir } }).start()).rejects.toMatchObject({ code: 'not-found', message: expect.stringMatching(/pkexec is not installed.*sudo chronodisk service$/) });
  });
});

describe('serviceGroup', () => {
  it('is chronodisk when the group exists, else our own gid', () => {
    writeFileSync(join(dir, 'group'), 'root:x:0:\nchronodisk:x:998:me\n');
    expect(serviceGroup(join(dir, 'group'))).toBe('chronodisk');
    writeFileSync(join(dir, 'group'), 'root:x:0:\nchronodiskers:x:997:\n');
    expect(serviceGroup(join(dir, 'group'))).toBe(String(process.getgid!()));
  });
});

describe('serviceCommandLine', () => {
  it('is the installed command in the deb, Electron as Node in an AppImage, and Node from a checkout', () => {
    expect(serviceCommandLine({ packaged: true, execPath: '/opt/Chronodisk/chronodisk-app', appRoot: '/opt/Chronodisk/resources/app.asar', installedCli: '/bin/sh' })).toEqual(['/bin/sh']);
    expect(serviceCommandLine({ packaged: true, execPath: '/tmp/.mount_x/chronodisk-app', appRoot: '/tmp/.mount_x/resources/app.asar', installedCli: join(dir, 'none') })).toEqual([
      '/usr/bin/env',
      'ELECTRON_RUN_AS_NODE=1',
      '/tmp/.mount_x/chronodisk-app',
      '/tmp/.mount_x/resources/app.asar/bin/chronodisk.js',
    ]);
    expect(serviceCommandLine({ packaged: false, execPath: 'electron', appRoot: repoRoot, nodePath: '/usr/local/bin/node' })).toEqual(['/usr/local/bin/node', join(repoRoot, 'bin/chronodisk.js')]);
  });
});
