import type { Appliance } from '../engine/appliance.js';
import type { RateLimiter } from '../engine/devices/io-priority.js';
import { ChronodiskError } from '../engine/errors.js';
import type { DiskRecord } from '../engine/store/catalog-state.js';
import type { PointInfo } from '../engine/timeline.js';
import type { TargetPromptOptions } from './restore-target-prompt.js';

/** `restore --to TARGET --live`: not built yet. */
export async function runLiveRestore(_app: Appliance, _disk: DiskRecord, _point: PointInfo, _opts: TargetPromptOptions & { to: string; socket?: string }, _limiter?: RateLimiter): Promise<void> {
  throw new ChronodiskError('usage', '--live is not available yet; restore without it');
}
