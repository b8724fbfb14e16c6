import { resolve } from 'node:path';
import type { Verb } from './verb.js';
import { ChronodiskError } from '../engine/errors.js';
import { loopbackHost } from '../service/loopback-guard.js';
import { listenOnSocket } from '../service/socket-listener.js';
import { startUiServer } from '../service/ui-server.js';
import { runServiceUntilStopped, serviceOptions, type Listener, type ServiceRunOptions } from './service-run.js';

export const uiVerb: Verb = {
  name: 'ui',
  summary: 'Run the service with the window in a browser: HTTP and a WebSocket on loopback, behind a random token',
  configure(cmd) {
    serviceOptions(cmd)
      .option('--host <address>', 'the loopback address to listen on: 127.0.0.1, ::1 or localhost', '127.0.0.1')
      .option('--port <n>', 'the port to listen on (0: any free port)', '0')
      .option('--socket <path>', 'also answer on this unix socket (as chronodisk service does)')
      .option('--renderer-dir <dir>', 'the built window to serve (default: dist/renderer, made by npm run build:renderer)')
      .addHelpText('after', '\nOpen the printed URL (http://127.0.0.1:PORT/#token=TOKEN) in a browser on this machine. Details: docs/SERVICE.md.')
      .action(async (opts: ServiceRunOptions & { host: string; port: string; socket?: string; rendererDir?: string }) => {
        const host = loopbackHost(opts.host);
        const port = Number(opts.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ChronodiskError('usage', `--port ${opts.port} is not a port number (0 to 65535)`);
        await runServiceUntilStopped(opts, 'chronodisk ui', async (service) => {
          const listeners: Listener[] = [];
          if (opts.socket) {
            const s = await listenOnSocket(service, { path: opts.socket });
            listeners.push({ json: { socket: s.path, mode: `0${s.mode.toString(8)}` }, text: `Listening on ${s.path}.`, close: s.close });
          }
          try {
            const ui = await startUiServer(service, { host, port, ...(opts.rendererDir ? { rendererDir: resolve(opts.rendererDir) } : {}) });
            listeners.push({ json: { url: ui.url, host: ui.host, port: ui.port, token: ui.token }, text: `Open ${ui.url} in a browser on this machine.`, close: ui.close });
          } catch (e) {
            await Promise.allSettled(listeners.map((l) => l.close()));
            if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new ChronodiskError('busy', `port ${port} on ${host} is in use; pass another --port (or 0 for any free one)`);
            throw e;
          }
          return listeners;
        });
      });
  },
};
