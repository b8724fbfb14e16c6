/**
 * The tray icon: capture's state at a glance (its picture and tooltip), and a menu with
 * the state in words, Show, Pause/Resume capture, Start the service (when not connected)
 * and Quit. Some Linux desktops show no tray at all; the app menu offers the same.
 */
import type { Menu as MenuType, MenuItemConstructorOptions, nativeImage as NativeImageType, Tray as TrayType } from 'electron';
import { join } from 'node:path';
import type { CaptureState, CaptureView } from './capture-status.js';
import type { ShellActions } from './shell-actions.js';

/** resources/icons/tray-STATE.png, made by build/render-icons.sh. */
export function trayIconPath(iconsDir: string, state: CaptureState): string {
  return join(iconsDir, `tray-${state}.png`);
}

export function trayMenuTemplate(view: CaptureView, actions: ShellActions): MenuItemConstructorOptions[] {
  return [
    { id: 'status', label: `Chronodisk: ${view.line}`, enabled: false },
    { type: 'separator' },
    { id: 'show', label: 'Show Chronodisk', click: () => actions.showWindow() },
    { id: 'pause', label: 'Pause capture', enabled: view.state === 'capturing', click: () => actions.pauseCapture() },
    { id: 'resume', label: 'Resume capture', enabled: view.state === 'paused', click: () => actions.resumeCapture() },
    { id: 'start-service', label: 'Start the Chronodisk service', visible: view.state === 'not-connected', click: () => actions.startService() },
    { type: 'separator' },
    { id: 'quit', label: 'Quit Chronodisk', click: () => actions.quit() },
  ];
}

export class StatusTray {
  private readonly tray: TrayType;
  private shown: CaptureState | undefined;

  constructor(
    private readonly electron: { Tray: typeof TrayType; Menu: typeof MenuType; nativeImage: typeof NativeImageType },
    private readonly iconsDir: string,
    private readonly actions: ShellActions,
    view: CaptureView,
  ) {
    this.tray = new electron.Tray(this.image(view.state));
    this.tray.on('click', () => actions.showWindow());
    this.show(view);
  }

  show(view: CaptureView): void {
    if (this.tray.isDestroyed()) return;
    if (view.state !== this.shown) this.tray.setImage(this.image(view.state));
    this.shown = view.state;
    this.tray.setToolTip(`Chronodisk: ${view.line}`);
    this.tray.setContextMenu(this.electron.Menu.buildFromTemplate(trayMenuTemplate(view, this.actions)));
  }

  destroy(): void {
    if (!this.tray.isDestroyed()) this.tray.destroy();
  }

  private image(state: CaptureState) {
    return this.electron.nativeImage.createFromPath(trayIconPath(this.iconsDir, state));
  }
}
