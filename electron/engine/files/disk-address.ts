import type { Appliance } from '../appliance.js';
import { usageError } from '../errors.js';
import { openFileSystem, type FileSystemReader } from '../fs/filesystem.js';
import type { TimeImage } from '../time-image.js';

/** A disk as a user names it: DISK (its only filesystem) or DISK:N (partition N, 1-based; 0 is the whole disk). */
export interface DiskAddress {
  disk: string;
  partition?: number;
}

/** Parses DISK or DISK:N; the partition number is the text after the last colon. */
export function parseDiskAddress(text: string): DiskAddress {
  const m = /^(.+?):(\d+)$/.exec(text);
  if (!m) {
    if (text === '' || text.endsWith(':')) throw usageError(`"${text}" is not a disk address; write DISK or DISK:N (partition N)`);
    return { disk: text };
  }
  const partition = Number(m[2]);
  if (!Number.isSafeInteger(partition) || partition > 4096) throw usageError(`partition ${m[2]} in "${text}" is out of range`);
  return { disk: m[1]!, partition };
}

/** The filesystem reader of the time image at a point, for an address. */
export async function openAddressAt(image: TimeImage, address: DiskAddress): Promise<FileSystemReader> {
  return openFileSystem(image, address.partition);
}

/** The time image of the addressed disk at seq. */
export function imageFor(app: Appliance, address: DiskAddress, seq: number): TimeImage {
  return app.image(app.disk(address.disk), seq);
}
