/**
 * The window's menu, kept minimal: the app (start the service, pause/resume, quit),
 * Edit (so copy and paste work in text fields), View (zoom; reload and developer tools
 * only when not packaged) and Help (the version).
 */
import type { MenuItemConstructorOptions } from 'electron';
import type { CaptureView } from './capture-status.js';
import type { ShellActions } from './shell-actions.js';

export function appMenuTemplate(view: CaptureView, actions: ShellActions & { about(): void }, packaged: boolean): MenuItemConstructorOptions[] {
  const developer: MenuItemConstructorOptions[] = packaged ? [] : [{ role: 'reload' }, { role: 'toggleDevTools' }, { type: 'separator' }];
  return [
    {
      label: 'Chronodisk',
      submenu: [
        { id: 'start-service', label: 'Start the Chronodisk service', enabled: view.state === 'not-connected', click: () => actions.startService() },
        { id: 'pause', label: 'Pause capture', enabled: view.state === 'capturing', click: () => actions.pauseCapture() },
        { id: 'resume', label: 'Resume capture', enabled: view.state === 'paused', click: () => actions.resumeCapture() },
        { type: 'separator' },
        { id: 'quit', label: 'Quit', accelerator: 'CmdOrCtrl+Q', click: () => actions.quit() },
      ],
    },
    { role: 'editMenu' },
    { label: 'View', submenu: [...developer, { role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' }] },
    { label: 'Help', submenu: [{ id: 'about', label: 'About Chronodisk', click: () => actions.about() }] },
  ];
}
