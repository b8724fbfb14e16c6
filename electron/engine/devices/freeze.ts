import { execFile, execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { promisify } from 'node:util';
import { ChronodiskError, fromFsError } from '../errors.js';
import { atProcessEnd } from './process-end.js';

const run = promisify(execFile);

/**
 * Freezes a mounted filesystem (FIFREEZE through `fsfreeze`, Node has no ioctl) for the
 * length of a callback, so a capture can end on a crash-consistent point. A frozen
 * filesystem blocks every writer on the machine, so it is thawed whatever happens: when
 * the callback returns or throws, on SIGTERM/SIGINT/SIGHUP and at exit while frozen, and
 * after `maxFrozenMs` even if the callback hangs.
 */

export interface FreezeOptions {
  /** Thaw after this long whatever the callback is doing (default 10 s). */
  maxFrozenMs?: number;
}

export interface Frozen {
  mountpoint: string;
  /** Aborted when the filesystem was thawed early (time limit, stop signal): the callback should stop. */
  signal: AbortSignal;
}

const DEFAULT_MAX_FROZEN_MS = 10_000;

/** Mount points frozen by this process (freezing twice would deadlock our own thaw logic). */
const frozenHere = new Set<string>();

export async function withFrozen<T>(mountpoint: string, fn: (frozen: Frozen) => Promise<T>, opts: FreezeOptions = {}): Promise<T> {
  let mp: string;
  try {
    mp = realpathSync(mountpoint);
  } catch (e) {
    throw fromFsError(e, mountpoint);
  }
  if (frozenHere.has(mp)) throw new ChronodiskError('busy', `${mp} is already frozen by this process`);
  const maxMs = opts.maxFrozenMs ?? DEFAULT_MAX_FROZEN_MS;

  let thawed = false;
  const thawNow = () => {
    if (thawed) return;
    thawed = true;
    frozenHere.delete(mp);
    thawSync(mp);
  };
  // Thawing early (a time limit, a signal the program handles) ends the callback's claim
  // to a consistent point: abort its signal and reject.
  const controller = new AbortController();
  let endEarly: (message: string) => void = () => undefined;
  const early = new Promise<never>((_, reject) => {
    endEarly = (message) => {
      controller.abort();
      thawNow();
      reject(new ChronodiskError('busy', message));
    };
  });
  early.catch(() => undefined); // it may end before anyone races it; the race still sees it
  // Registered before freezing: a signal during `fsfreeze -f` must thaw too.
  const unregister = atProcessEnd(() => endEarly(`${mp} was thawed early because the process is being stopped`), { urgent: true });

  frozenHere.add(mp);
  try {
    await run('fsfreeze', ['-f', mp]);
  } catch (e) {
    unregister();
    frozenHere.delete(mp);
    throw freezeError(e, mp);
  }

  const timer = setTimeout(
    () => endEarly(`${mp} stayed frozen longer than ${maxMs} ms, so it was thawed early; the point is not crash-consistent`),
    maxMs,
  );
  try {
    return await Promise.race([fn({ mountpoint: mp, signal: controller.signal }), early]);
  } finally {
    clearTimeout(timer);
    unregister();
    if (!thawed) {
      thawed = true;
      frozenHere.delete(mp);
      await thaw(mp);
    }
  }
}

/** Thaws a filesystem; "not frozen" is fine (someone else may have thawed it). */
export async function thaw(mountpoint: string): Promise<void> {
  try {
    await run('fsfreeze', ['-u', mountpoint]);
  } catch (e) {
    if (!isNotFrozen(e)) throw freezeError(e, mountpoint);
  }
}

/** Synchronous thaw for signal and exit handlers, where nothing async runs any more. */
function thawSync(mountpoint: string): void {
  try {
    execFileSync('fsfreeze', ['-u', mountpoint], { stdio: 'ignore' });
  } catch {
    // Not frozen any more, or fsfreeze is gone: nothing better to do while dying.
  }
}

const stderrOf = (e: unknown): string => String((e as { stderr?: unknown }).stderr ?? (e as Error).message ?? '');
const isNotFrozen = (e: unknown): boolean => /Invalid argument/.test(stderrOf(e));

function freezeError(e: unknown, mp: string): Error {
  const text = stderrOf(e);
  if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
    return new ChronodiskError('not-found', 'fsfreeze is not installed (it comes with util-linux)', { cause: e });
  }
  if (/Operation not permitted|Permission denied/.test(text)) {
    return new ChronodiskError('permission', `${mp}: freezing a filesystem needs root`, { cause: e });
  }
  if (/Device or resource busy/.test(text)) return new ChronodiskError('busy', `${mp} is already frozen`, { cause: e });
  if (/Operation not supported|Inappropriate ioctl/.test(text)) {
    return new ChronodiskError('refused', `${mp}: this filesystem cannot be frozen`, { cause: e });
  }
  return new ChronodiskError('io', `${mp}: fsfreeze failed: ${text.trim().split('\n')[0]}`, { cause: e });
}
