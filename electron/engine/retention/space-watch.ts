import type { Appliance } from '../appliance.js';
import { ensureSpace, minFreeOf } from './space-guard.js';

/** What a space watch tells: it thinned early, the appliance is full, or there is room again. */
export interface SpaceNews {
  state: 'thinned' | 'full' | 'room';
  message: string;
}

/** A watch asks the guard once a second, or sooner once an eighth of the floor was stored since it last asked. */
const LOOK_MS = 1000;
const LOOK_FLOOR_SHARE = 8;
/** After `full` or `deferred`, the next look waits this long (planning a thinning that cannot run is not free). */
const BACK_OFF_MS = 5000;
/** The reserve asked for: what the appliance took in this many seconds at its recent fastest. */
const RESERVE_SECONDS = 4;

/**
 * The space guard for a writer that never pauses between steps (split capture: every
 * write is a point, with no capture loop around it). After writes — once a second, or
 * once an eighth of the floor was stored, so a fast writer cannot run through the floor
 * between two looks — it runs ensureSpace in the background with a reserve for what the
 * writes store in a few seconds, so thinning starts before the floor is reached. The
 * thinning's segment swap holds new split writes back while it runs (Appliance.writesAllowed).
 */
export class SpaceWatch {
  private nextLookMs = 0;
  /** Bytes stored that bring the next look forward (an eighth of the floor). */
  private lookBytes = 0;
  private running: Promise<void> | undefined;
  private lastStored: number;
  private lastLookMs = performance.now();
  /** Bytes stored per second in the last few looks. */
  private rates: number[] = [];
  private full = false;

  /**
   * `onState` hears of each thinning, of the appliance becoming full, and of room once it
   * was full; `onError` of a guard that failed (an I/O error while thinning).
   */
  constructor(
    private readonly app: Appliance,
    private readonly whenFull: string,
    private readonly onState: (s: SpaceNews) => void,
    private readonly onError: (e: unknown) => void,
  ) {
    this.lastStored = app.bytesAppended;
  }

  /** After a write was stored: looks at the space if it is time. Never throws, never waits. */
  wrote(): void {
    if (this.running) return;
    const now = performance.now();
    const stored = this.app.bytesAppended;
    if (now < this.nextLookMs && stored - this.lastStored < this.lookBytes) return;
    this.lookBytes = minFreeOf(this.app) / LOOK_FLOOR_SHARE;
    this.rates = [...this.rates.slice(-7), (Math.max(0, stored - this.lastStored) * 1000) / Math.max(1, now - this.lastLookMs)];
    this.lastStored = stored;
    this.lastLookMs = now;
    this.nextLookMs = now + LOOK_MS;
    this.running = ensureSpace(this.app, { reserveBytes: RESERVE_SECONDS * Math.max(...this.rates), whenFull: this.whenFull })
      .then((s) => {
        if (s.state === 'full' || s.state === 'deferred') this.nextLookMs = performance.now() + BACK_OFF_MS;
        if (s.state === 'deferred') return;
        // A thinning each time; a full appliance once, and room once it was full.
        if (s.state === 'thinned' || s.state === 'full') {
          if (s.state === 'thinned' || !this.full) this.onState({ state: s.state, message: s.message });
        } else if (this.full) {
          this.onState({ state: 'room', message: `there is room on the appliance again (${Math.round(s.freeBytes / 2 ** 20)} MiB free)` });
        }
        this.full = s.state === 'full';
      })
      .catch((e: unknown) => {
        this.nextLookMs = performance.now() + BACK_OFF_MS;
        this.onError(e);
      })
      .finally(() => (this.running = undefined));
  }

  /** Resolves once no look runs (before the appliance closes). */
  async settled(): Promise<void> {
    await this.running;
  }
}
