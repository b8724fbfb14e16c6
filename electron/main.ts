/**
 * The Electron main process: the desktop window over the privileged service. It runs
 * unprivileged; everything that needs root happens in `chronodisk service`, reached over
 * its unix socket (CHRONODISK_SERVICE_SOCKET, else /run/chronodisk/service.sock). The
 * pieces are in shell/, one job each; this file only starts them.
 */
import { app, BrowserWindow, dialog, ipcMain, Menu, nativeImage, session, Tray } from 'electron';
import { DEFAULT_SERVICE_SOCKET } from './service/service-socket-client.js';
import { startDesktopApp } from './shell/desktop-app.js';

startDesktopApp(
  { app, BrowserWindow, dialog, ipcMain, Menu, nativeImage, session, Tray },
  { socketPath: process.env.CHRONODISK_SERVICE_SOCKET || DEFAULT_SERVICE_SOCKET },
);
