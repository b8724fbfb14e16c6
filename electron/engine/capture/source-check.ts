import { identityMatches, probeSource, type SourceIdentity, type SourceInfo } from '../devices/block-device.js';
import { ChronodiskError } from '../errors.js';
import type { DiskRecord } from '../store/catalog-state.js';

/**
 * Probes a protected disk's source and refuses to capture it when it is no longer the disk
 * that was registered: another size, or another identity (a renamed /dev/sdX now naming a
 * different drive). Capturing it silently would splice two disks' histories.
 */
export async function probeProtectedSource(disk: DiskRecord): Promise<SourceInfo> {
  const info = await probeSource(disk.source);
  if (info.size !== disk.size) {
    throw new ChronodiskError(
      'changed',
      `the source of ${disk.name} (${disk.source}) changed size: it was ${disk.size} bytes and is now ${info.size}; protect it again under a new name`,
    );
  }
  const was = disk.identity as unknown as SourceIdentity;
  if (was && Object.keys(was).length && !identityMatches(was, info.identity)) {
    throw new ChronodiskError(
      'changed',
      `${disk.source} is no longer the disk ${disk.name} was protected from (identity changed: ${describe(was)} → ${describe(info.identity)}); check which device it is now`,
    );
  }
  return info;
}

function describe(id: SourceIdentity): string {
  return id.serial ?? id.wwn ?? id.backingFile ?? id.file?.path ?? id.byId?.[0] ?? 'unknown';
}
