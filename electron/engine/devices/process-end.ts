/**
 * Last-moment cleanups for kernel state that must not outlive us (a frozen filesystem, a
 * tracing instance), shared so that several users coordinate on one set of signal
 * listeners. On SIGTERM/SIGINT/SIGHUP:
 * - `urgent` cleanups run at once, even when the program handles the signal itself (a
 *   frozen filesystem would block the program's own shutdown);
 * - the others run only if nobody else handles the signal, and then the signal is raised
 *   again so the process dies of it as it would have without us. A program with its own
 *   handler owns the shutdown and undoes things properly (stop(), thaw).
 * At 'exit', whatever the reason, everything still registered runs.
 */

export type Cleanup = () => void;

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
const urgent = new Set<Cleanup>();
const normal = new Set<Cleanup>();
let attached = false;

function runAll(set: Set<Cleanup>): void {
  for (const fn of [...set]) {
    set.delete(fn);
    try {
      fn();
    } catch {
      // dying: nothing better to do than carry on with the rest
    }
  }
}

const onExit = () => {
  runAll(urgent);
  runAll(normal);
};

const onSignal = (sig: NodeJS.Signals) => {
  runAll(urgent);
  if (process.listenerCount(sig) > 1) return;
  runAll(normal);
  detach();
  process.kill(process.pid, sig);
};

function attach(): void {
  if (attached) return;
  attached = true;
  process.on('exit', onExit);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function detach(): void {
  if (!attached) return;
  attached = false;
  process.removeListener('exit', onExit);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

/** Registers a synchronous cleanup; the returned function unregisters it. */
export function atProcessEnd(fn: Cleanup, opts: { urgent?: boolean } = {}): () => void {
  const set = opts.urgent ? urgent : normal;
  set.add(fn);
  attach();
  return () => {
    set.delete(fn);
    if (urgent.size === 0 && normal.size === 0) detach();
  };
}
