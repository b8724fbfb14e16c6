import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Appliance } from '../appliance.js';
import { ExportTable } from '../nbd/export.js';
import { NbdServer, type Listening } from '../nbd/server.js';
import type { DiskRecord } from '../store/catalog-state.js';
import { SplitCapture, type SplitEvents } from './split-capture.js';

/** What a split listener reports: its points and space news, and errors of its NBD connections. */
export interface SplitListenerEvents extends SplitEvents {
  onError?: (e: unknown) => void;
}

export interface SplitListener {
  disk: string;
  listening: Listening;
}

/** One split-mode disk's NBD listener, and how to close it (the server, then the capture). */
export interface RunningSplit extends SplitListener {
  /** NBD clients connected now (a VM, nbdfuse): while any is, the disk is in use. */
  clients(): number;
  close(): Promise<void>;
}

/** Starts the split listener of one split-mode disk on `<dir>/<disk>.sock` (mode 0600). */
export async function startSplitListener(
  app: Appliance,
  disk: DiskRecord,
  dir: string,
  events: SplitListenerEvents = {},
): Promise<RunningSplit> {
  const split = await SplitCapture.start(app, disk, events);
  const server = new NbdServer({
    provider: new ExportTable([{ name: disk.name, description: `${disk.name} through split capture`, open: () => split.open() }], disk.name),
    onError: events.onError,
  });
  const close = async () => {
    await server.close().catch(() => undefined);
    await split.close();
  };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const listening = await server.listen({ socket: join(dir, `${disk.name}.sock`) });
    return { disk: disk.name, listening, clients: () => server.connectionCount, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * The appliance writer's split listeners: one NBD server per split-mode disk, on
 * `<dir>/<disk>.sock` (mode 0600). Returns what listens and a function that closes them.
 */
export async function startSplitListeners(
  app: Appliance,
  dir: string,
  events: SplitListenerEvents = {},
): Promise<{ listeners: SplitListener[]; close(): Promise<void> }> {
  const running: RunningSplit[] = [];
  const close = async () => {
    await Promise.allSettled(running.map((s) => s.close()));
  };
  try {
    for (const disk of app.disks().filter((d) => d.mode === 'split')) running.push(await startSplitListener(app, disk, dir, events));
  } catch (e) {
    await close();
    throw e;
  }
  return { listeners: running.map(({ disk, listening }) => ({ disk, listening })), close };
}
