export interface StopSignals {
  /** Resolves with the first SIGINT or SIGTERM received since watchStopSignals(). */
  stopped: Promise<NodeJS.Signals>;
  /** Stops handling the signals (a later one acts as by default). */
  release(): void;
}

/**
 * Handles SIGINT and SIGTERM from now until release(), so that the caller shuts down
 * cleanly. Call it BEFORE announcing readiness: a client that stops us as soon as we say
 * "listening" would otherwise find the default disposition in place and kill us mid-way.
 * The handlers stay registered through the shutdown (a repeated signal changes nothing):
 * while they are, devices/process-end.ts leaves the shutdown to us instead of cleaning up
 * and re-raising the signal under our feet.
 */
export function watchStopSignals(): StopSignals {
  let on!: (sig: NodeJS.Signals) => void;
  const stopped = new Promise<NodeJS.Signals>((resolve) => (on = resolve));
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, on);
  return {
    stopped,
    release: () => {
      for (const s of ['SIGINT', 'SIGTERM'] as const) process.off(s, on);
    },
  };
}
