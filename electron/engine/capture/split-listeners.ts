import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Appliance } from '../appliance.js';
import { ExportTable } from '../nbd/export.js';
import { NbdServer, type Listening } from '../nbd/server.js';
import type { PointInfo } from '../timeline.js';
import { SplitCapture } from './split-capture.js';

export interface SplitListener {
  disk: string;
  listening: Listening;
}

/**
 * The appliance writer's split listeners: one NBD server per split-mode disk, on
 * `<dir>/<disk>.sock` (mode 0600). Returns what listens and a function that closes them.
 */
export async function startSplitListeners(
  app: Appliance,
  dir: string,
  onPoint?: (p: PointInfo) => void,
  onError?: (e: unknown) => void,
): Promise<{ listeners: SplitListener[]; close(): Promise<void> }> {
  const servers: NbdServer[] = [];
  const splits: SplitCapture[] = [];
  const listeners: SplitListener[] = [];
  const close = async () => {
    await Promise.allSettled(servers.map((s) => s.close()));
    await Promise.allSettled(splits.map((s) => s.close()));
  };
  try {
    for (const disk of app.disks().filter((d) => d.mode === 'split')) {
      const split = await SplitCapture.start(app, disk, onPoint);
      splits.push(split);
      const server = new NbdServer({
        provider: new ExportTable([{ name: disk.name, description: `${disk.name} through split capture`, open: () => split.open() }], disk.name),
        onError,
      });
      servers.push(server);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      listeners.push({ disk: disk.name, listening: await server.listen({ socket: join(dir, `${disk.name}.sock`) }) });
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { listeners, close };
}
