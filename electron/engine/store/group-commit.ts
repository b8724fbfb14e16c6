/**
 * One group of records made durable by one fdatasync, gathered by `gather()`: its
 * records are in the file (written, not yet synced), up to serial `serial`.
 */
export interface SyncRound {
  serial: number;
  /** The fdatasync (nothing, when a rotation sealed the segment meanwhile). */
  sync(): Promise<void>;
}

/** What GroupCommit needs of the file it syncs (the segment writer). */
export interface GroupCommitTarget {
  /** Bytes appended so far: the clock waiters wait on. */
  appended(): number;
  /** Writes everything appended so far to the file and says what one fdatasync now covers; throws after a failed write. */
  gather(): Promise<SyncRound>;
  /** After a failed write or fdatasync: cut back to what is durable (every waiter is then rejected). */
  failed(e: unknown): Promise<void>;
  /** After each fdatasync, before its waiters are told. */
  synced(): void;
}

/**
 * Group commit: every caller waiting when an fdatasync starts shares it. Rounds overlap —
 * while one round's fdatasync runs, the next gathers its group and writes its records to
 * the file; its fdatasync starts when the previous one is done (one at a time). A round
 * covers everything appended before it started writing.
 */
export class GroupCommit {
  /** Bytes known durable: every waiter at or below it is acknowledged. */
  durable = 0;
  private waiters: Array<{ serial: number; resolve: () => void; reject: (e: unknown) => void }> = [];
  private running: Promise<void> | undefined;

  constructor(private readonly target: GroupCommitTarget) {}

  /** Resolves once everything appended before the call (or up to `serial`) is on stable storage. */
  sync(serial = this.target.appended()): Promise<void> {
    if (this.durable >= serial) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ serial, resolve, reject });
      this.running ??= this.run();
    });
  }

  /**
   * The file was cut back to `serial` (a failed write): waiters for bytes past it can
   * never be made durable, and are rejected with `e`.
   */
  dropAbove(serial: number, e: unknown): void {
    // Bytes past the cut are new ones from now on: none of them is durable yet.
    this.durable = Math.min(this.durable, serial);
    const gone = this.waiters.filter((w) => w.serial > serial);
    if (gone.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.serial <= serial);
    for (const w of gone) w.reject(e);
  }

  /** Whether a round runs (an fdatasync may be in flight). */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Resolves once no round runs. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Serves the waiters until none is left. It must await before anything can throw: were
   * it to finish synchronously, its `finally` would clear `running` before sync() set it,
   * and every later sync() would wait on a loop that has ended. It clears `running` in
   * the same synchronous step that finds no waiter, so none is ever left behind.
   */
  private async run(): Promise<void> {
    /** The last round's fdatasync and acknowledgements, still running. */
    let previous: Promise<void> | undefined;
    /** What the last round started covers. */
    let started = this.durable;
    try {
      for (;;) {
        if (!this.waiters.some((w) => w.serial > started)) {
          if (!previous) break;
          await previous;
          previous = undefined;
          continue;
        }
        // Let the rest of this event-loop turn join the group: pipelined split writes whose
        // bytes arrived in the same poll of the sockets reach sync() right after the first.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const round = await this.target.gather();
        if (previous) await previous;
        started = round.serial;
        previous = this.finish(round);
        previous.catch(() => undefined); // awaited by the next round or the loop's end
      }
    } catch (e) {
      // The last round acknowledges what its fdatasync made durable; then the writer cuts
      // back to what is durable, rejecting every waiter past it (dropAbove). Any waiter
      // the cut left past what is durable (nothing to cut: the file is closed) fails too.
      // Waiters that come after the cut wait for bytes placed after it: a new loop serves them.
      await previous?.catch(() => undefined);
      const beforeCut = new Set(this.waiters);
      await this.target.failed(e);
      const failed = this.waiters.filter((w) => beforeCut.has(w) && w.serial > this.durable);
      this.waiters = this.waiters.filter((w) => !failed.includes(w));
      for (const w of failed) w.reject(e);
    } finally {
      this.running = undefined;
      this.resolveDurable();
      if (this.waiters.length > 0) this.running = this.run();
    }
  }

  /** Acknowledges every waiter whose bytes are durable. */
  private resolveDurable(): void {
    const ready = this.waiters.filter((w) => w.serial <= this.durable);
    this.waiters = this.waiters.filter((w) => w.serial > this.durable);
    for (const w of ready) w.resolve();
  }

  /** A round's fdatasync, then the acknowledgements of every waiter it covers. */
  private async finish(round: SyncRound): Promise<void> {
    await round.sync();
    this.durable = Math.max(this.durable, round.serial);
    this.target.synced();
    this.resolveDurable();
  }
}
