/**
 * The desktop shell end to end, window to service and back.
 *
 * MOCKED: the `electron` module (test/shell/electron-stand-in.ts), because the Electron
 * binary cannot be downloaded or run here. REAL: the built preload (dist/electron/
 * preload.cjs, run as the sandbox runs it), the main process's bridge, connection,
 * tray and menu code, and the service behind them on a real unix socket
 * (test/shell/service-peer.ts) — a request really crosses the socket.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ContractApi } from '../../shared/contract-client.js';
import type { Point, ServiceConnection } from '../../shared/contract.js';
import { shellPaths } from '../../electron/shell/app-paths.js';
import { startDesktopApp, type DesktopApp, type ElectronMain } from '../../electron/shell/desktop-app.js';
import { CONTENT_SECURITY_POLICY } from '../../electron/shell/web-security.js';
import { repoRoot } from '../helpers/cli.js';
import { makeElectronStandIn, type ElectronStandIn } from './electron-stand-in.js';
import { ServicePeer } from './service-peer.js';

const paths = shellPaths(repoRoot);

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let dir: string;
let peer: ServicePeer;
let standIn: ElectronStandIn;
let app: DesktopApp;
let logs: string[];

async function launch(opts: { serviceUp?: boolean } = {}): Promise<ContractApi> {
  if (opts.serviceUp !== false) await peer.start();
  standIn = makeElectronStandIn();
  logs = [];
  app = startDesktopApp(standIn.electron as unknown as ElectronMain, { socketPath: peer.path, retryMs: 20, paths, log: (l) => logs.push(l) })!;
  await app.ready;
  const win = standIn.windows[0]!;
  const api = standIn.runPreload(paths.preload, win.webContents).chronodisk as ContractApi;
  if (opts.serviceUp !== false) await until('the connection', () => app.connection.state.state === 'connected');
  return api;
}

/** What a rejected request hands the renderer. */
async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('the request was not refused');
}

beforeEach(() => {
  if (!existsSync(paths.preload)) throw new Error(`${paths.preload} is missing: run npm run build:node first`);
  dir = mkdtempSync(join(tmpdir(), 'shell-'));
  peer = new ServicePeer(join(dir, 'service.sock'));
});

afterEach(async () => {
  standIn?.electron.app.quit();
  await peer.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the bridge from the window to the service', () => {
  it('carries a request from the preload API through main to the service and back, and errors as one-line {code, message}', async () => {
    const api = await launch();
    expect(Object.keys(api).sort()).toEqual(['on', 'request']);
    expect(await api.request('status', {})).toEqual(peer.status());
    expect(peer.received.map((r) => r.channel)).toContain('status');

    const e = await refusal(api.request('resolvePoint', { disk: 'nope', at: 'now' }));
    expect(e).toMatchObject({ name: 'ServiceError', code: 'not-found', message: 'no disk named "nope"' });
    // What to do about an error crosses too, for the window to offer as a button.
    const damaged = await refusal(api.request('listVolumes', { disk: 'vol', at: 'now' }));
    expect(damaged).toMatchObject({ code: 'damaged', message: 'the index does not match segment 3 at byte 64', remedy: 'rebuild-index' });
  });

  it('refuses a malformed payload and an unknown channel with one line, and neither reaches the service', async () => {
    const api = await launch();
    const before = peer.received.length;
    const bad = await refusal(api.request('resolvePoint', { disk: 'a/b', at: 'now' }));
    expect(bad.code).toBe('usage');
    expect(bad.message).toMatch(/^bad resolvePoint request: disk: a disk name may not contain @, : or \/$/);
    const missing = await refusal(api.request('timeline', {} as never));
    expect(missing.code).toBe('usage');
    expect(missing.message).toMatch(/^bad timeline request: disk:/);
    const unknown = await refusal(api.request('formatDisk' as never, { device: '/dev/sda' } as never));
    expect(unknown).toMatchObject({ code: 'usage', message: expect.stringMatching(/^unknown request channel "formatDisk"/) });
    const notAName = await refusal((api.request as (c: unknown, p: unknown) => Promise<unknown>)(42, {}));
    expect(notAName.code).toBe('usage');
    for (const e of [bad, missing, unknown, notAName]) expect(e.message).not.toContain('\n');
    expect(peer.received.length).toBe(before);
    expect(logs.filter((l) => l.startsWith('refused a request from the window'))).toHaveLength(4);
  });

  it('refuses requests from a foreign sender: another web contents, a page the window navigated to, a subframe', async () => {
    const api = await launch();
    const before = peer.received.length;
    const win = standIn.windows[0]!;

    const stranger = new standIn.FakeWebContents();
    stranger.mainFrame.url = win.webContents.mainFrame.url;
    const strangerApi = standIn.runPreload(paths.preload, stranger).chronodisk as ContractApi;
    expect(await refusal(strangerApi.request('status', {}))).toEqual(
      expect.objectContaining({ code: 'permission', message: 'refused a request from a web page that is not the Chronodisk window' }),
    );

    const sub = { url: win.webContents.mainFrame.url, parent: win.webContents.mainFrame };
    const subApi = standIn.runPreload(paths.preload, win.webContents, () => sub).chronodisk as ContractApi;
    expect((await refusal(subApi.request('status', {}))).code).toBe('permission');

    win.webContents.mainFrame.url = 'https://evil.example/page?x=1';
    expect(await refusal(api.request('status', {}))).toEqual(
      expect.objectContaining({ code: 'permission', message: "refused a request from https://evil.example/page, which is not the Chronodisk window's page" }),
    );
    expect(peer.received.length).toBe(before);
  });

  it("delivers the service's events to the window, checked against their schema", async () => {
    const api = await launch();
    const seen: Point[] = [];
    const off = api.on('pointCommitted', (p) => seen.push(p));
    const jobs: unknown[] = [];
    api.on('jobProgress', (j) => jobs.push(j));
    peer.emit('pointCommitted', { seq: 7, disk: 'home', timeUs: 5, flags: ['scan'] });
    peer.emit('pointCommitted', { seq: -1, disk: 'home', timeUs: 5, flags: [] }); // does not fit: dropped in main
    peer.emit('disksChanged', {});
    await until('the event', () => seen.length >= 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([{ seq: 7, disk: 'home', timeUs: 5, flags: ['scan'] }]);
    expect(jobs).toEqual([]);
    off();
    peer.emit('pointCommitted', { seq: 8, disk: 'home', timeUs: 6, flags: ['scan'] });
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toHaveLength(1);
  });

  it('tells the window when the service goes away, and reconnects when it comes back', async () => {
    const api = await launch();
    const states: ServiceConnection[] = [];
    api.on('serviceConnection', (s) => states.push(s));
    await until('the replayed state', () => states.length === 1);
    expect(states[0]).toEqual({ state: 'connected', socket: peer.path });

    await peer.stop();
    await until('the window to hear it', () => states.some((s) => s.state === 'disconnected'));
    const gone = states.find((s) => s.state === 'disconnected')!;
    expect(gone.reason).toMatch(/closed/);
    const e = await refusal(api.request('status', {}));
    expect(e.code).toBe('io');
    expect(e.message).toMatch(/^not connected to the Chronodisk service: /);

    await peer.start();
    await until('the reconnect', () => states.at(-1)?.state === 'connected');
    expect(await api.request('listDisks', {})).toEqual([]);
    expect(peer.connections).toBe(1);
  });

  it('says "not connected" and offers to start the service when nothing listens at launch', async () => {
    const api = await launch({ serviceUp: false });
    const states: ServiceConnection[] = [];
    api.on('serviceConnection', (s) => states.push(s));
    await until('the disconnected state', () => states.some((s) => s.state === 'disconnected'));
    expect(states.find((s) => s.state === 'disconnected')!.reason).toMatch(/^no Chronodisk service listens at /);
    await until('the offer', () => standIn.dialogs.length > 0);
    expect(standIn.dialogs[0]).toMatchObject({ message: 'Chronodisk cannot reach its service', buttons: ['Start the Chronodisk service', 'Not now'] });
    await until('the tray to say so', () => standIn.trays[0]?.tooltip === 'Chronodisk: Not connected to the service');
    const items = standIn.trays[0]!.menu!.template;
    expect(items.find((i) => i.id === 'start-service')).toMatchObject({ visible: true });
    expect(items.find((i) => i.id === 'pause')).toMatchObject({ enabled: false });

    // The service comes up on its own (systemd): the window and the tray follow.
    await peer.start();
    await until('the reconnect', () => states.at(-1)?.state === 'connected');
    await until('the tray', () => standIn.trays[0]!.tooltip === 'Chronodisk: Capturing');
    expect(standIn.dialogs).toHaveLength(1);
  });
});

describe('the window, the tray and the single instance', () => {
  it('creates the one window with the secure webPreferences, the built page and a locked-down session', async () => {
    await launch();
    expect(standIn.windows).toHaveLength(1);
    const win = standIn.windows[0]!;
    expect(win.options.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      preload: join(repoRoot, 'dist/electron/preload.cjs'),
    });
    expect(win.loadedFile).toBe(join(repoRoot, 'dist/renderer/index.html'));
    expect(standIn.state.sandboxEnabled).toBe(true);

    // Navigation, new windows and webviews are refused.
    expect(win.webContents.attempt('will-navigate', 'https://example.com/')).toBe(true);
    expect(win.webContents.attempt('will-attach-webview', {}, {})).toBe(true);
    expect(win.webContents.windowOpenHandler!({ url: 'https://example.com/' })).toEqual({ action: 'deny' });

    // Only the files of dist/renderer load; the page gets the CSP as a header; no permission is granted.
    const loads = (url: string) => {
      let cancel: boolean | undefined;
      standIn.state.beforeRequest!({ url }, (r) => (cancel = r.cancel));
      return cancel === false;
    };
    expect(loads(pathToFileURL(join(repoRoot, 'dist/renderer/assets/index.js')).href)).toBe(true);
    expect(loads(`${paths.rendererUrl.replace('index.html', '')}../../package.json`)).toBe(false);
    expect(loads(pathToFileURL(join(repoRoot, 'dist/renderer-other/x.js')).href)).toBe(false);
    expect(loads('file:///etc/passwd')).toBe(false);
    expect(loads('https://example.com/x.js')).toBe(false);
    expect(loads('ws://127.0.0.1:8080/')).toBe(false);
    let headers: Record<string, string[]> | undefined;
    standIn.state.headersReceived!({ url: paths.rendererUrl, resourceType: 'mainFrame', responseHeaders: {} }, (r) => (headers = (r as { responseHeaders: Record<string, string[]> }).responseHeaders));
    expect(headers!['Content-Security-Policy']).toEqual([CONTENT_SECURITY_POLICY]);
    expect(CONTENT_SECURITY_POLICY).toMatch(/default-src 'none'/);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/script-src[^;]*unsafe/);
    let granted: boolean | undefined;
    standIn.state.permissionRequest!({}, 'media', (ok) => (granted = ok));
    expect(granted).toBe(false);
    expect(standIn.state.permissionCheck!()).toBe(false);
  });

  it('a second launch brings the first window to the front; a launch without the lock quits at once', async () => {
    await launch();
    const win = standIn.windows[0]!;
    win.minimize();
    standIn.electron.app.emit('second-instance', {}, ['chronodisk-app'], repoRoot);
    expect(win.isMinimized()).toBe(false);
    expect(win.visible).toBe(true);
    expect(win.focusCalls).toBe(1);
    expect(standIn.windows).toHaveLength(1);

    const second = makeElectronStandIn();
    second.state.lockAvailable = false;
    const r = startDesktopApp(second.electron as unknown as ElectronMain, { socketPath: peer.path, paths, log: () => {} });
    expect(r).toBeUndefined();
    expect(second.state.quitCalls).toBe(1);
    expect(second.windows).toHaveLength(0);
    expect(second.handlers.size).toBe(0);
  });

  it('the tray shows capture and pauses and resumes it through the service; Quit quits', async () => {
    await launch();
    const tray = standIn.trays[0]!;
    await until('the tray', () => tray.tooltip === 'Chronodisk: Capturing');
    expect(tray.image).toEqual({ path: join(repoRoot, 'resources/icons/tray-capturing.png') });
    const item = (id: string) => tray.menu!.template.find((i) => i.id === id)! as { enabled?: boolean; visible?: boolean; click(): void };
    expect(item('resume').enabled).toBe(false);
    expect(item('start-service').visible).toBe(false);
    item('pause').click();
    await until('paused', () => tray.tooltip === 'Chronodisk: Paused: paused by you');
    expect(peer.received.map((r) => r.channel)).toContain('pauseCapture');
    expect(tray.image).toEqual({ path: join(repoRoot, 'resources/icons/tray-paused.png') });
    item('resume').click();
    await until('capturing again', () => tray.tooltip === 'Chronodisk: Capturing');

    // A captureStatus event makes the tray ask again (the service paused itself).
    peer.paused = 'the appliance is full';
    peer.emit('captureStatus', { disk: 'home', state: 'paused' });
    await until('the new state', () => tray.tooltip === 'Chronodisk: Paused: the appliance is full');
    const menu = standIn.state.applicationMenu!.template as Array<{ label?: string; submenu?: Array<{ id?: string; enabled?: boolean }> }>;
    expect(menu[0]!.submenu!.find((i) => i.id === 'resume')!.enabled).toBe(true);

    item('quit').click();
    expect(standIn.state.quitCalls).toBe(1);
    expect(tray.destroyed).toBe(true);
    expect(standIn.handlers.size).toBe(0);
  });
});
