import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Appliance } from './appliance.js';
import { ChronodiskError } from './errors.js';
import type { RetentionPolicy } from './retention/policy.js';
import { defaultPolicyOf, setDefaultPolicy } from './retention/policy-settings.js';
import { checkPolicy } from './retention/policy.js';

/**
 * The appliance's own settings, kept in its catalog so every writer (`chronodisk run`,
 * the service) and every client sees the same: how often scan-mode disks are scanned,
 * how fast scans may read, the default retention, and the folders file restores may
 * write into. Written only by the writer; each value is checked before it is stored.
 */
export interface ApplianceSettings {
  scanIntervalSec: number;
  /** Bytes per second for scan reads; 0: no limit. */
  rateLimit: number;
  /** The default policy (a disk's own, set with `chronodisk retention DISK`, wins). */
  retention: RetentionPolicy;
  /** Absolute paths of existing directories, outside the appliance. */
  restoreFolders: string[];
}

export const DEFAULT_SCAN_INTERVAL_SEC = 300;
const MAX_SCAN_INTERVAL_SEC = 7 * 86400;
const MAX_RESTORE_FOLDERS = 32;

export function readSettings(app: Appliance): ApplianceSettings {
  const interval = app.setting<number>('scanIntervalSec');
  const rate = app.setting<number>('rateLimit');
  const folders = app.setting<string[]>('restoreFolders');
  return {
    scanIntervalSec: typeof interval === 'number' && interval > 0 ? interval : DEFAULT_SCAN_INTERVAL_SEC,
    rateLimit: typeof rate === 'number' && rate >= 0 ? rate : 0,
    retention: defaultPolicyOf(app),
    restoreFolders: Array.isArray(folders) ? folders.filter((f) => typeof f === 'string') : [],
  };
}

/**
 * Checks every given value, then stores them (nothing is stored when one is refused) and
 * returns the settings as they now are.
 */
export function writeSettings(app: Appliance, patch: Partial<ApplianceSettings>): ApplianceSettings {
  const { scanIntervalSec, rateLimit, retention } = patch;
  if (scanIntervalSec !== undefined && !(Number.isInteger(scanIntervalSec) && scanIntervalSec > 0 && scanIntervalSec <= MAX_SCAN_INTERVAL_SEC)) {
    throw new ChronodiskError('usage', `a scan interval of ${scanIntervalSec} s is out of range: give whole seconds from 1 to ${MAX_SCAN_INTERVAL_SEC}`);
  }
  if (rateLimit !== undefined && !(Number.isSafeInteger(rateLimit) && rateLimit >= 0)) {
    throw new ChronodiskError('usage', `a scan rate limit of ${rateLimit} is not a whole number of bytes per second (0: no limit)`);
  }
  if (retention) checkPolicy(retention);
  const folders = patch.restoreFolders === undefined ? undefined : checkRestoreFolders(app, patch.restoreFolders);
  if (scanIntervalSec !== undefined) app.setSetting('scanIntervalSec', scanIntervalSec);
  if (rateLimit !== undefined) app.setSetting('rateLimit', rateLimit);
  if (retention) setDefaultPolicy(app, retention);
  if (folders) app.setSetting('restoreFolders', folders);
  return readSettings(app);
}

/** Each folder: absolute, an existing directory, not inside the appliance (nor holding it); duplicates dropped. */
function checkRestoreFolders(app: Appliance, folders: string[]): string[] {
  if (folders.length > MAX_RESTORE_FOLDERS) throw new ChronodiskError('usage', `${folders.length} restore folders is too many; keep at most ${MAX_RESTORE_FOLDERS}`);
  const applianceDir = realpathSync(app.dir);
  const out: string[] = [];
  for (const f of folders) {
    if (!isAbsolute(f)) throw new ChronodiskError('usage', `restore folder ${f} is not an absolute path; give the full path of a folder`);
    let real: string;
    try {
      real = realpathSync(resolve(f));
      if (!statSync(real).isDirectory()) throw new ChronodiskError('usage', `restore folder ${f} is not a folder; give an existing folder`);
    } catch (e) {
      if (e instanceof ChronodiskError) throw e;
      throw new ChronodiskError('not-found', `restore folder ${f} does not exist; create it first`);
    }
    if (isWithin(real, applianceDir) || isWithin(applianceDir, real)) {
      throw new ChronodiskError('refused', `restore folder ${f} ${isWithin(real, applianceDir) ? 'is inside' : 'holds'} the appliance ${app.dir}: pick a folder elsewhere`);
    }
    if (!out.includes(real)) out.push(real);
  }
  return out;
}

/** Whether `path` is `dir` or inside it (both real paths). */
function isWithin(path: string, dir: string): boolean {
  const d = dir.endsWith('/') ? dir : `${dir}/`;
  return path === dir || path.startsWith(d);
}
