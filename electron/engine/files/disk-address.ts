import type { Appliance } from '../appliance.js';
import { isChronodiskError, usageError } from '../errors.js';
import { detectFileSystem, type FileSystemReader } from '../fs/filesystem.js';
import { openVolume } from '../fs/partitions.js';
import type { TimeImage } from '../time-image.js';
import { mountWithKernel } from './kernel-mount.js';
import { MountedReader } from './mounted-reader.js';

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

export interface OpenedFileSystem {
  fs: FileSystemReader;
  /** 'in-process', or 'kernel' when the volume was mounted through NBD + loop. */
  via: 'in-process' | 'kernel';
  close(): Promise<void>;
}

/**
 * The filesystem of the addressed volume of a time image: an in-process reader where one
 * knows the filesystem, else (Linux, root) the kernel's, mounted read-only. Close it after.
 */
export async function openAddressAt(image: TimeImage, address: DiskAddress): Promise<OpenedFileSystem> {
  const volume = await openVolume(image, address.partition);
  try {
    return { fs: await detectFileSystem(volume), via: 'in-process', close: async () => undefined };
  } catch (e) {
    if (!isChronodiskError(e, 'not-found')) throw e;
    const mount = await mountWithKernel(volume).catch((k: unknown) => {
      // Both failed: the in-process probe's message says what the volume holds.
      throw isChronodiskError(k, 'not-found') ? e : k;
    });
    return { fs: new MountedReader(mount.root, mount.type), via: 'kernel', close: () => mount.close() };
  }
}

/** The time image of the addressed disk at seq. */
export function imageFor(app: Appliance, address: DiskAddress, seq: number): TimeImage {
  return app.image(app.disk(address.disk), seq);
}
