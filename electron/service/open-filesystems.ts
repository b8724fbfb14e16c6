import type { Appliance } from '../engine/appliance.js';
import { isChronodiskError } from '../engine/errors.js';
import { imageFor, openAddressAt, type DiskAddress, type OpenedFileSystem } from '../engine/files/disk-address.js';
import type { FileSystemReader } from '../engine/fs/filesystem.js';

const KEEP = 4;
const IDLE_MS = 30_000;

interface Entry {
  key: string;
  opened: Promise<OpenedFileSystem>;
  users: number;
  lastUsed: number;
  timer?: NodeJS.Timeout;
}

/**
 * Filesystems of time images the browser is looking at, kept open between requests:
 * browsing a folder, then its subfolder, then a file's versions opens the volume once
 * (and, for a filesystem only the kernel reads, mounts it once). A few are kept, each
 * closed after 30 s unused, all closed when the service stops.
 */
export class OpenFileSystems {
  private entries = new Map<string, Entry>();

  constructor(private readonly app: Appliance) {}

  async use<T>(address: DiskAddress, seq: number, fn: (fs: FileSystemReader) => Promise<T>): Promise<T> {
    const key = `${address.disk}:${address.partition ?? ''}@${seq}`;
    let e = this.entries.get(key);
    if (!e) {
      e = { key, opened: openAddressAt(imageFor(this.app, address, seq), address), users: 0, lastUsed: 0 };
      this.entries.set(key, e);
      e.opened.catch(() => this.entries.get(key) === e && this.entries.delete(key));
    }
    e.users++;
    clearTimeout(e.timer);
    try {
      return await fn((await e.opened).fs);
    } catch (err) {
      // A point that thinning removed, or a volume that failed: open it afresh next time.
      if (isChronodiskError(err, 'not-found') || isChronodiskError(err, 'damaged')) this.drop(e);
      throw err;
    } finally {
      e.users--;
      e.lastUsed = performance.now();
      if (e.users === 0) {
        if (this.entries.get(key) === e) e.timer = setTimeout(() => this.drop(e), IDLE_MS).unref();
        else void this.close(e); // dropped while in use
      }
      this.evict();
    }
  }

  async closeAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.allSettled(all.map((e) => this.close(e)));
  }

  private evict(): void {
    const idle = [...this.entries.values()].filter((e) => e.users === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const e of idle.slice(0, Math.max(0, this.entries.size - KEEP))) this.drop(e);
  }

  private drop(e: Entry): void {
    if (this.entries.get(e.key) === e) this.entries.delete(e.key);
    if (e.users === 0) void this.close(e);
  }

  private async close(e: Entry): Promise<void> {
    clearTimeout(e.timer);
    const opened = await e.opened.catch(() => undefined);
    await opened?.close().catch(() => undefined);
  }
}
