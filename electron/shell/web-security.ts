/**
 * What the window's web content may do, decided once for the session and for every web
 * contents the app ever creates (Electron's security checklist): load only the files of
 * dist/renderer (no network, no other file), under a strict Content-Security-Policy sent
 * as a header on the page; no permissions (camera, notifications, …); no navigation, no
 * new windows, no <webview>.
 */
import type { App, Session, WebContents } from 'electron';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Scripts and styles only from the app's own files (React's style attributes need inline
 * styles), images also as data: URLs; nothing else, and no network at all: the window
 * talks to the service through the preload bridge, never over a socket of its own.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'none'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-src 'none'",
  "frame-ancestors 'none'",
  "worker-src 'none'",
].join('; ');

/** Whether the window may load `url`: a file inside rendererDir, or the developer tools. */
export function mayLoad(url: string, rendererDir: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === 'devtools:') return true;
  if (u.protocol === 'data:') return true; // data: images; the CSP keeps data: out of scripts
  if (u.protocol !== 'file:' || u.host !== '') return false;
  let path: string;
  try {
    path = fileURLToPath(u);
  } catch {
    return false;
  }
  return path.startsWith(rendererDir.endsWith(sep) ? rendererDir : rendererDir + sep);
}

export function secureSession(session: Session, rendererDir: string, log: (line: string) => void): void {
  session.webRequest.onBeforeRequest((details, callback) => {
    const ok = mayLoad(details.url, rendererDir);
    if (!ok) log(`blocked the window from loading ${details.url.slice(0, 200)}`);
    callback({ cancel: !ok });
  });
  session.webRequest.onHeadersReceived((details, callback) => {
    if (details.resourceType !== 'mainFrame') return callback({});
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
}

/** Applies to every web contents the app creates, ours or one that slipped past. */
export function guardWebContents(app: Pick<App, 'on'>, log: (line: string) => void): void {
  app.on('web-contents-created', (_event, contents: WebContents) => {
    contents.on('will-navigate', (e, url) => {
      e.preventDefault();
      log(`blocked a navigation to ${url.slice(0, 200)}`);
    });
    contents.on('will-redirect', (e) => e.preventDefault());
    contents.on('will-attach-webview', (e) => e.preventDefault());
    contents.setWindowOpenHandler(({ url }) => {
      log(`blocked a new window for ${url.slice(0, 200)}`);
      return { action: 'deny' };
    });
  });
}
