/**
 * One serving process of ImageServeProcesses (a child of `chronodisk serve`): opens the
 * appliance read-only, then serves every connection the parent hands over, whole — the
 * handshake and each READ answered from an in-process TimeImage. See image-serve-processes.ts
 * for the messages.
 */
import type { Socket } from 'node:net';
import { Appliance } from '../appliance.js';
import { isChronodiskError } from '../errors.js';
import { NbdServer } from './server.js';
import { imageExports } from './serve-images.js';
import type { ChildMessage, ParentMessage, StartMessage } from './image-serve-processes.js';

const send = (m: ChildMessage): void => {
  if (process.connected) process.send!(m);
};

let server: NbdServer | undefined;
let app: Appliance | undefined;

async function start(m: StartMessage): Promise<void> {
  try {
    // One of these per core already reads side by side: a decode thread each would only contend.
    app = await Appliance.open(m.dir, { passphrase: m.passphrase, decodeThread: false });
    const opened = app;
    const images = m.points.map((p) => ({ name: p.name, description: p.description, source: opened.image(opened.disk(p.disk), p.seq) }));
    server = new NbdServer({
      provider: imageExports(images, m),
      onError: (e) => send({ type: 'error', message: e instanceof Error ? e.message : String(e) }),
    });
    send({ type: 'ready' });
  } catch (e) {
    send({ type: 'failed', message: e instanceof Error ? e.message : String(e), code: isChronodiskError(e) ? e.code : undefined });
  }
}

async function stop(): Promise<void> {
  await server?.close();
  app?.close();
  process.disconnect();
}

process.on('message', (m: ParentMessage, handle?: Socket) => {
  if (m.type === 'start') void start(m);
  else if (m.type === 'close') void stop();
  else if (m.type === 'connection' && handle) {
    handle.once('close', () => send({ type: 'closed' }));
    if (server) server.adopt(handle);
    else handle.destroy();
  }
});
// Ctrl-C reaches the whole process group: the parent decides when this process stops.
process.on('SIGINT', () => undefined);
// The parent is gone (killed): nobody can hand over connections or stop this one cleanly.
process.on('disconnect', () => void server?.close().finally(() => process.exit(0)));
