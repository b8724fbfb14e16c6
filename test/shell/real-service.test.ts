/**
 * The window against the real `chronodisk service` (a real appliance, a real loop device).
 *
 * MOCKED: the `electron` module (test/shell/electron-stand-in.ts): the Electron binary
 * cannot run here. REAL: the built preload, main's bridge, and `chronodisk service`
 * started from bin/chronodisk.js on a unix socket, capturing a loop device. Needs root
 * (losetup), as the capture suites do.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ContractApi } from '../../shared/contract-client.js';
import type { Point, ServiceConnection } from '../../shared/contract.js';
import { shellPaths } from '../../electron/shell/app-paths.js';
import { startDesktopApp, type DesktopApp, type ElectronMain } from '../../electron/shell/desktop-app.js';
import { cliPath, repoRoot } from '../helpers/cli.js';
import { makeElectronStandIn } from './electron-stand-in.js';

const dir = mkdtempSync(join(tmpdir(), 'shell-real-'));
const appliance = join(dir, 'appliance');
const socket = join(dir, 'service.sock');
const image = join(dir, 'disk.img');
let loop: string | undefined;
let service: ChildProcess | undefined;
const standIn = makeElectronStandIn();
let app: DesktopApp;
let api: ContractApi;

/** Starts `chronodisk service` and resolves once it says it listens. */
function startService(): Promise<void> {
  const child = spawn(process.execPath, [cliPath, 'service', '-a', appliance, '--socket', socket, '--split-dir', join(dir, 'split'), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  service = child;
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if ((JSON.parse(line) as { event: string }).event === 'listening') resolve();
    });
    child.once('exit', (code) => reject(new Error(`chronodisk service exited with ${code}: ${err}`)));
  });
}

async function stopService(): Promise<void> {
  const child = service;
  service = undefined;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  execFileSync(process.execPath, [cliPath, 'init', appliance], { stdio: 'pipe' });
  // 8 MiB of a known pattern on a loop device: what the window will protect.
  const data = Buffer.alloc(8 << 20);
  for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i);
  writeFileSync(image, data);
  loop = execFileSync('losetup', ['-f', '--show', image], { encoding: 'utf8' }).trim();
  await startService();
  app = startDesktopApp(standIn.electron as unknown as ElectronMain, { socketPath: socket, retryMs: 50, paths: shellPaths(repoRoot), log: () => {} })!;
  await app.ready;
  api = standIn.runPreload(shellPaths(repoRoot).preload, standIn.windows[0]!.webContents).chronodisk as ContractApi;
  await until('the connection', () => app.connection.state.state === 'connected');
});

afterAll(async () => {
  standIn.electron.app.quit();
  await stopService();
  if (loop) execFileSync('losetup', ['-d', loop]);
  rmSync(dir, { recursive: true, force: true });
});

it('answers the window through the bridge: status, a refusal by the bridge, an error from the service', async () => {
  const status = await api.request('status', {});
  expect(status.appliance).toBe(appliance);
  expect(status.writer).toBe(true);
  expect(await api.request('listDisks', {})).toEqual([]);
  await expect(api.request('resolvePoint', { disk: 'a/b', at: 'now' })).rejects.toMatchObject({ code: 'usage', message: expect.stringMatching(/^bad resolvePoint request: disk:/) });
  const e = (await api.request('resolvePoint', { disk: 'nothere', at: 'now' }).catch((x: unknown) => x)) as { code: string; message: string };
  expect(e.code).toBe('not-found');
  expect(e.message).not.toContain('\n');
});

it("the window protects a loop device and sees the service's events: disksChanged, captureStatus, pointCommitted", async () => {
  const drives = await api.request('listDrives', {});
  const offered = drives.find((d) => d.device === loop);
  expect(offered, `${loop} among ${drives.map((d) => d.device).join(', ')}`).toBeDefined();
  const seen: string[] = [];
  const points: Point[] = [];
  api.on('disksChanged', () => seen.push('disksChanged'));
  api.on('captureStatus', (s) => seen.push(`captureStatus:${s.state}`));
  api.on('pointCommitted', (p) => points.push(p));
  const disk = await api.request('protectDisk', { device: loop!, name: 'shelltest', mode: 'scan' });
  expect(disk).toMatchObject({ name: 'shelltest', source: loop, size: 8 << 20, mode: 'scan' });
  await until('the first point', () => points.length > 0);
  expect(seen).toContain('disksChanged');
  expect(seen.some((s) => s.startsWith('captureStatus:'))).toBe(true);
  expect(points[0]).toMatchObject({ disk: 'shelltest' });
  const tray = standIn.trays[0]!;
  await until('the tray', () => tray.tooltip === 'Chronodisk: Capturing');
});

it('tells the window when the service stops, and reconnects when it is started again', async () => {
  const states: ServiceConnection[] = [];
  api.on('serviceConnection', (s) => states.push(s));
  await until('the replayed state', () => states.length === 1);
  await stopService();
  await until('disconnected', () => states.some((s) => s.state === 'disconnected'));
  await expect(api.request('listDisks', {})).rejects.toMatchObject({ code: 'io', message: expect.stringMatching(/^not connected to the Chronodisk service/) });
  expect(standIn.trays[0]!.tooltip).toBe('Chronodisk: Not connected to the service');
  await startService();
  await until('reconnected', () => states.at(-1)?.state === 'connected');
  expect((await api.request('listDisks', {})).map((d) => d.name)).toEqual(['shelltest']);
});
