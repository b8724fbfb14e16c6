import { resolve } from 'node:path';
import { Appliance } from '../engine/appliance.js';
import { ChronodiskError } from '../engine/errors.js';
import { readSettings } from '../engine/appliance-settings.js';
import { CaptureControl } from './capture-control.js';
import { EventHub, type EventListener } from './event-hub.js';
import { captureHandlers } from './handlers/capture-handlers.js';
import { diskHandlers } from './handlers/disk-handlers.js';
import { fileHandlers } from './handlers/file-handlers.js';
import { jobHandlers } from './handlers/job-handlers.js';
import { checkHandlers } from './handlers/check-handlers.js';
import { indexHandlers } from './handlers/index-handlers.js';
import { scheduledThinning, thinHandlers } from './handlers/thin-handlers.js';
import { DEFAULT_THIN_EVERY_SEC, ThinningSchedule } from '../engine/retention/thinning-schedule.js';
import { restoreHandlers } from './handlers/restore-handlers.js';
import { timelineHandlers } from './handlers/timeline-handlers.js';
import { JobRunner } from './job-runner.js';
import { OpenFileSystems } from './open-filesystems.js';
import { RequestRouter, type Answer, type Handlers } from './request-router.js';
import type { ServiceContext } from './service-context.js';

export interface ServiceOptions {
  /** The appliance directory. */
  dir: string;
  passphrase?: string;
  /** Where split-mode disks listen (DIR/DISK.sock). */
  splitDir: string;
  /** Names the writer in the appliance's lock ("in use by … (chronodisk service)"). */
  command: string;
  /** Seconds between rounds of thinning by the retention policies (ThinningSchedule); 0: never. Default a day. */
  thinEverySec?: number;
}

/**
 * The privileged service: the one writer of an appliance (it holds the writer lock),
 * capturing every protected disk as `chronodisk run` does, answering every request of
 * the contract and pushing its events to every subscriber. Transports (the unix socket,
 * the loopback WebSocket) only carry text to answer() and events out of subscribe().
 */
export class ChronodiskService {
  private readonly router: RequestRouter;
  private stopping: Promise<void> | undefined;
  private readonly thinning: ThinningSchedule;

  private constructor(
    private readonly ctx: ServiceContext,
    thinEverySec: number,
  ) {
    this.thinning = new ThinningSchedule({
      everySec: thinEverySec,
      round: () => scheduledThinning(ctx),
      // A round's own failures are failed jobs; this is what went wrong around one.
      onError: (e) => process.emitWarning(`scheduled thinning: ${e instanceof Error ? e.message : String(e)}`),
    });
    const handlers: Handlers = {
      ...diskHandlers(ctx),
      ...timelineHandlers(ctx),
      ...fileHandlers(ctx),
      ...restoreHandlers(ctx),
      ...captureHandlers(ctx),
      ...jobHandlers(ctx),
      ...checkHandlers(ctx),
      ...indexHandlers(ctx),
      ...thinHandlers(ctx),
      // The desktop app's main process answers this itself (it starts the service); asked here, the service is running.
      startService: () => {
        throw new ChronodiskError('usage', 'startService is answered by the desktop app, not the service: the service is already running');
      },
    };
    this.router = new RequestRouter(handlers);
  }

  /** Opens the appliance as its writer (refused, with who holds it, when another writer does) and starts capture. */
  static async start(options: ServiceOptions): Promise<ChronodiskService> {
    const app = await Appliance.open(resolve(options.dir), { writable: true, passphrase: options.passphrase, command: options.command });
    try {
      const events = new EventHub();
      const settings = readSettings(app);
      const capture = new CaptureControl(app, events, { splitDir: options.splitDir, scanIntervalSec: settings.scanIntervalSec, rateLimit: settings.rateLimit });
      const service = new ChronodiskService({ app, events, capture, jobs: new JobRunner(events), files: new OpenFileSystems(app) }, options.thinEverySec ?? DEFAULT_THIN_EVERY_SEC);
      await capture.start();
      service.thinning.start();
      return service;
    } catch (e) {
      app.close();
      throw e;
    }
  }

  get appliance(): Appliance {
    return this.ctx.app;
  }

  get splitListeners() {
    return this.ctx.capture.splitListeners;
  }

  /** Answers one incoming message (never throws). */
  answer(text: string): Promise<Answer> {
    return this.router.answer(text);
  }

  subscribe(listener: EventListener): () => void {
    return this.ctx.events.subscribe(listener);
  }

  /** Cancels running jobs, ends capture with a final point, closes the appliance. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // A scheduled round waits for its job, which stopAll ends.
      await Promise.all([this.thinning.stop(), this.ctx.jobs.stopAll()]);
      try {
        await this.ctx.capture.stop();
        await this.ctx.files.closeAll();
      } finally {
        this.ctx.app.close();
      }
    })();
    return this.stopping;
  }
}
