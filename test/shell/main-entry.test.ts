/**
 * electron/main.ts itself, as Electron would load it.
 *
 * MOCKED: the `electron` module (test/shell/electron-stand-in.ts): the Electron binary
 * cannot run here. REAL: main.ts, everything it starts, and a service on a real unix
 * socket named by CHRONODISK_SERVICE_SOCKET.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it, vi } from 'vitest';
import { repoRoot } from '../helpers/cli.js';
import { makeElectronStandIn } from './electron-stand-in.js';
import { ServicePeer } from './service-peer.js';

const standIn = vi.hoisted(() => ({ current: undefined as undefined | ReturnType<typeof makeElectronStandIn> }));
vi.mock('electron', async () => {
  const { makeElectronStandIn } = await import('./electron-stand-in.js');
  standIn.current = makeElectronStandIn();
  return standIn.current.electron;
});

const dir = mkdtempSync(join(tmpdir(), 'shell-main-'));
const peer = new ServicePeer(join(dir, 'service.sock'));
afterAll(async () => {
  standIn.current?.electron.app.quit();
  await peer.stop();
  rmSync(dir, { recursive: true, force: true });
  delete process.env.CHRONODISK_SERVICE_SOCKET;
});

it('main.ts opens the secure window on dist/renderer and connects to the socket CHRONODISK_SERVICE_SOCKET names', async () => {
  await peer.start();
  process.env.CHRONODISK_SERVICE_SOCKET = peer.path;
  await import('../../electron/main.js');
  const s = standIn.current!;
  await new Promise((r) => setTimeout(r, 0));
  expect(s.windows).toHaveLength(1);
  const win = s.windows[0]!;
  expect(win.loadedFile).toBe(join(repoRoot, 'dist/renderer/index.html'));
  expect(win.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true });
  const end = Date.now() + 5000;
  while (!peer.received.some((r) => r.channel === 'status') && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  // The tray's first question to the service crossed the real socket.
  expect(peer.received.map((r) => r.channel)).toContain('status');
});
