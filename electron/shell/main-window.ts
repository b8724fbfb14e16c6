/**
 * The one window: the React app of dist/renderer, with Electron's secure defaults made
 * explicit (isolated, sandboxed, no Node, web security on) and the preload bridge as its
 * only way to the service. It shows once painted, so it never flashes empty.
 */
import type { BrowserWindow as BrowserWindowType, BrowserWindowConstructorOptions } from 'electron';
import { existsSync } from 'node:fs';
import type { ShellPaths } from './app-paths.js';

export type WebPreferences = NonNullable<BrowserWindowConstructorOptions['webPreferences']>;

export function secureWebPreferences(preload: string, devTools: boolean): WebPreferences {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    spellcheck: false,
    devTools,
  };
}

export function createMainWindow(
  BrowserWindow: typeof BrowserWindowType,
  paths: ShellPaths,
  options: { icon?: string; devTools: boolean; log(line: string): void },
): BrowserWindowType {
  const win = new BrowserWindow({
    title: 'Chronodisk',
    width: 1180,
    height: 760,
    minWidth: 800,
    minHeight: 520,
    show: false,
    backgroundColor: '#10151f',
    icon: options.icon,
    webPreferences: secureWebPreferences(paths.preload, options.devTools),
  });
  win.once('ready-to-show', () => win.show());
  if (!existsSync(paths.rendererIndex)) options.log(`${paths.rendererIndex} is missing: build the window with npm run build:renderer`);
  win.loadFile(paths.rendererIndex).catch((e: Error) => options.log(`could not load ${paths.rendererIndex}: ${e.message}`));
  return win;
}

/** Brings the window to the front (a second launch, the tray's Show). */
export function focusWindow(win: BrowserWindowType): void {
  if (win.isMinimized()) win.restore();
  win.show();
  win.focus();
}
