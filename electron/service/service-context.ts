import { parsePointSpec } from '../../shared/point.js';
import type { Appliance } from '../engine/appliance.js';
import type { DiskRecord } from '../engine/store/catalog-state.js';
import type { PointInfo } from '../engine/timeline.js';
import type { CaptureControl } from './capture-control.js';
import type { EventHub } from './event-hub.js';
import type { JobRunner } from './job-runner.js';
import type { OpenFileSystems } from './open-filesystems.js';

/** What every handler works with: the one writable appliance and the service's parts around it. */
export interface ServiceContext {
  app: Appliance;
  events: EventHub;
  jobs: JobRunner;
  capture: CaptureControl;
  files: OpenFileSystems;
}

/** A point as a client names it (shared/point.ts syntax), resolved on a disk. */
export function resolvePoint(app: Appliance, disk: DiskRecord, at: string): PointInfo {
  return app.timeline.resolve(disk, parsePointSpec(at));
}
