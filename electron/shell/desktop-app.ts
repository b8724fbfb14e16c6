/**
 * The desktop app's life: one instance (a second launch brings the first one's window to
 * the front and quits), one window, the tray and the menu, the bridge to the service and
 * the connection behind it. Closing the window quits the app; capture goes on in the
 * service, which does not depend on the app. Electron comes in as a parameter, so tests
 * can hand in a stand-in (the binary cannot run there).
 */
import type * as Electron from 'electron';
import type { ServiceConnection as ConnectionState } from '../../shared/contract.js';
import { appRoot, shellPaths, type ShellPaths } from './app-paths.js';
import { appMenuTemplate } from './app-menu.js';
import { CaptureStatusFollower, type CaptureView } from './capture-status.js';
import { IpcBridge } from './ipc-bridge.js';
import { createMainWindow, focusWindow } from './main-window.js';
import { ServiceConnection } from './service-connection.js';
import { ServiceStarter, serviceCommandLine } from './service-starter.js';
import type { ShellActions } from './shell-actions.js';
import { StatusTray, trayIconPath } from './status-tray.js';
import { guardWebContents, secureSession } from './web-security.js';

export type ElectronMain = Pick<typeof Electron, 'app' | 'BrowserWindow' | 'ipcMain' | 'Tray' | 'Menu' | 'nativeImage' | 'session' | 'dialog'>;

export interface DesktopAppOptions {
  socketPath: string;
  /** First reconnect delay (ms); tests shorten it. */
  retryMs?: number;
  paths?: ShellPaths;
  log?: (line: string) => void;
}

export interface DesktopApp {
  window(): Electron.BrowserWindow | undefined;
  connection: ServiceConnection;
  /** Resolves once the window, tray and bridge exist. */
  ready: Promise<void>;
}

/** Starts the app, or returns undefined (and quits) when another instance already runs. */
export function startDesktopApp(electron: ElectronMain, options: DesktopAppOptions): DesktopApp | undefined {
  const { app, dialog } = electron;
  const log = options.log ?? ((line: string) => console.log(`chronodisk: ${line}`));
  if (!app.requestSingleInstanceLock()) {
    log('Chronodisk is already running; showing its window');
    app.quit();
    return undefined;
  }
  app.enableSandbox();
  guardWebContents(app, log);

  const paths = options.paths ?? shellPaths();
  const connection = new ServiceConnection({ socketPath: options.socketPath, retryMs: options.retryMs });
  const starter = new ServiceStarter({
    cli: serviceCommandLine({ packaged: app.isPackaged, execPath: process.execPath, appRoot: appRoot(), nodePath: process.env.npm_node_execpath }),
    socketPath: options.socketPath,
    connected: async (ms) => {
      await connection.connectNow();
      return connection.whenConnected(ms);
    },
  });
  let win: Electron.BrowserWindow | undefined;
  let tray: StatusTray | undefined;
  let follower: CaptureStatusFollower | undefined;
  let bridge: IpcBridge | undefined;
  let offeredStart = false;

  const say = (message: string, detail?: string) => {
    log(detail ? `${message}: ${detail}` : message);
    if (win && !win.isDestroyed()) void dialog.showMessageBox(win, { type: 'info', message, detail, buttons: ['OK'] });
  };
  const startService = () =>
    starter.start().then(
      (r) => log(r.message),
      (e: Error) => say('Could not start the Chronodisk service', e.message),
    );
  const capture = (channel: 'pauseCapture' | 'resumeCapture') =>
    connection.request(channel, {}).then(
      () => follower?.refresh(),
      (e: Error) => say(channel === 'pauseCapture' ? 'Could not pause capture' : 'Could not resume capture', e.message),
    );
  const actions: ShellActions & { about(): void } = {
    showWindow: () => (win && !win.isDestroyed() ? focusWindow(win) : openWindow()),
    pauseCapture: () => void capture('pauseCapture'),
    resumeCapture: () => void capture('resumeCapture'),
    startService: () => void startService(),
    quit: () => app.quit(),
    about: () => say(`Chronodisk ${app.getVersion()}`, `Electron ${process.versions.electron ?? '?'}; service socket ${options.socketPath}`),
  };
  const showView = (view: CaptureView) => {
    tray?.show(view);
    electron.Menu.setApplicationMenu(electron.Menu.buildFromTemplate(appMenuTemplate(view, actions, app.isPackaged)));
  };

  // When the window cannot reach the service, offer once per launch to start it.
  const offerStart = async (state: ConnectionState) => {
    if (offeredStart || state.state !== 'disconnected' || !win || win.isDestroyed()) return;
    offeredStart = true;
    const { response } = await dialog.showMessageBox(win, {
      type: 'question',
      message: 'Chronodisk cannot reach its service',
      detail: `${state.reason ?? ''}\nThe service reads and writes disks as root; starting it asks for an administrator's password.`,
      buttons: ['Start the Chronodisk service', 'Not now'],
      defaultId: 0,
      cancelId: 1,
    });
    if (response === 0) await startService();
  };

  function openWindow(): void {
    win = createMainWindow(electron.BrowserWindow, paths, { icon: trayIconPath(paths.icons, 'capturing'), devTools: !app.isPackaged, log });
    const contents = win.webContents;
    // The page learns the connection's state as soon as it has loaded, and on every change.
    contents.on('did-finish-load', () => {
      bridge?.sendEvent('serviceConnection', connection.state);
      void offerStart(connection.state);
    });
    win.on('closed', () => (win = undefined));
  }

  app.on('second-instance', () => actions.showWindow());
  app.on('window-all-closed', () => app.quit());
  app.on('before-quit', () => {
    follower?.close();
    bridge?.close();
    tray?.destroy();
    connection.close();
  });

  const ready = app.whenReady().then(() => {
    secureSession(electron.session.defaultSession, paths.rendererDir, log);
    bridge = new IpcBridge({
      ipcMain: electron.ipcMain,
      window: () => (win && !win.isDestroyed() ? win.webContents : undefined),
      rendererUrl: paths.rendererUrl,
      service: connection,
      startService: () => starter.start(),
      refused: log,
    });
    connection.onState((state) => {
      bridge?.sendEvent('serviceConnection', state);
      void offerStart(state);
    });
    follower = new CaptureStatusFollower(connection, showView);
    try {
      tray = new StatusTray(electron, paths.icons, actions, follower.view);
    } catch (e) {
      log(`no tray icon on this desktop (${(e as Error).message}); the menu offers the same`);
    }
    showView(follower.view);
    openWindow();
    connection.start();
  });
  ready.catch((e: Error) => log(`could not start: ${e.message}`));
  return { window: () => win, connection, ready };
}
