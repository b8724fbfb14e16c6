import { execFile, execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { promisify } from 'node:util';
import { ChronodiskError, fromFsError } from '../errors.js';

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
  /** Aborted when the time limit thawed the filesystem early: the callback should stop. */
  signal: AbortSignal;
}

const DEFAULT_MAX_FROZEN_MS = 10_000;
const THAW_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

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

  frozenHere.add(mp);
  try {
    await run('fsfreeze', ['-f', mp]);
  } catch (e) {
    frozenHere.delete(mp);
    throw freezeError(e, mp);
  }

  let thawed = false;
  const thawNow = () => {
    if (thawed) return;
    thawed = true;
    frozenHere.delete(mp);
    thawSync(mp);
  };
  const onSignal = (sig: NodeJS.Signals) => {
    thawNow();
    detach();
    // We were the only listener: let the signal do what it would have done without us.
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  const onExit = () => thawNow();
  const detach = () => {
    for (const s of THAW_SIGNALS) process.removeListener(s, onSignal);
    process.removeListener('exit', onExit);
  };
  for (const s of THAW_SIGNALS) process.on(s, onSignal);
  process.on('exit', onExit);

  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      thawNow();
      reject(new ChronodiskError('busy', `${mp} stayed frozen longer than ${maxMs} ms, so it was thawed early; the point is not crash-consistent`));
    }, maxMs);
  });
  try {
    return await Promise.race([fn({ mountpoint: mp, signal: controller.signal }), timeout]);
  } finally {
    clearTimeout(timer);
    detach();
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
