import { Option, type Command } from 'commander';
import type { FileSystemReader } from '../engine/fs/filesystem.js';
import { imageFor, openAddressAt, parseDiskAddress } from '../engine/files/disk-address.js';
import type { PointInfo } from '../engine/timeline.js';
import { parsePointSpec, POINT_SYNTAX } from '../../shared/point.js';
import { applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';

/**
 * The arguments every file verb shares: -a DIR, DISK[:N] and --at POINT. Browsing
 * (`latest`) looks at the latest point unless told otherwise, as a file browser would;
 * restoring names its point.
 */
export function fileVerbOptions(cmd: Command, at: 'latest' | 'required'): Command {
  const withDisk = applianceOptions(cmd).argument('<disk>', 'DISK (its only filesystem) or DISK:N (partition N)');
  return at === 'latest' ? withDisk.addOption(new Option('--at <point>', POINT_SYNTAX).default('now', 'now, the latest point')) : withDisk.requiredOption('--at <point>', POINT_SYNTAX);
}

/** Runs `fn` with the filesystem of DISK[:N] as it was at --at, the appliance closed after. */
export async function withFileSystemAt<T>(
  opts: ApplianceOptions,
  addressText: string,
  at: string,
  fn: (fs: FileSystemReader, point: PointInfo) => Promise<T>,
): Promise<T> {
  const address = parseDiskAddress(addressText);
  const spec = parsePointSpec(at);
  return withAppliance(opts, {}, async (app) => {
    const point = app.timeline.resolve(app.disk(address.disk), spec);
    const opened = await openAddressAt(imageFor(app, address, point.seq), address);
    try {
      return await fn(opened.fs, point);
    } finally {
      await opened.close();
    }
  });
}
