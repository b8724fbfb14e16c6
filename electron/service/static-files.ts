import { createReadStream, existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** Where `npm run build:renderer` puts the window: dist/renderer (found from dist/ or from the sources). */
export function defaultRendererDir(): string {
  const here = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(here.endsWith('.ts') ? '../../dist/renderer/' : '../../renderer/', import.meta.url));
}

/**
 * Serves the built renderer: GET and HEAD of files inside `root` only (no listing, no
 * path outside it), index.html for '/'. When the renderer is not built, a page says how.
 */
export function serveStatic(req: IncomingMessage, res: ServerResponse, root: string, headers: Record<string, string>): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'only GET and HEAD here\n', { ...headers, Allow: 'GET, HEAD' });
  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    return reply(res, 400, 'bad path\n', headers);
  }
  if (path.includes('\0')) return reply(res, 400, 'bad path\n', headers);
  if (!existsSync(join(root, 'index.html'))) {
    return reply(res, 503, 'The Chronodisk window is not built: run npm run build:renderer, then reload.\n', headers);
  }
  const file = normalize(join(root, path === '/' ? 'index.html' : path));
  if (!file.startsWith(root.endsWith(sep) ? root : root + sep)) return reply(res, 404, 'not found\n', headers);
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) return reply(res, 404, 'not found\n', headers);
    size = st.size;
  } catch {
    return reply(res, 404, 'not found\n', headers);
  }
  res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': String(size) });
  if (req.method === 'HEAD') return void res.end();
  createReadStream(file).on('error', () => res.destroy()).pipe(res);
}

export function reply(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}
