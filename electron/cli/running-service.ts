import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Job } from '../../shared/contract.js';
import { isServiceError, type ContractClient } from '../../shared/contract-client.js';
import { ChronodiskError } from '../engine/errors.js';
import { WriterLock } from '../engine/store/writer-lock.js';
import { connectService } from '../service/service-socket-client.js';
import { applianceDir, type ApplianceOptions } from './appliance-access.js';
import type { ProgressReport } from './output.js';

/** How long a forwarded request may take: these are quick catalog writes, so silence means a stuck service. */
const ANSWER_MS = 30_000;

/**
 * A write verb beside a running service. The service is the appliance's writer, so the
 * verb cannot open it for writing; but the service named its socket in writer.json
 * (FORMAT.md §9), and the verb asks it there instead, as the window does. Returns
 * undefined when no live writer answers on a socket (none runs, or `chronodisk run`,
 * which has no socket): the verb then opens the appliance itself, and a writer without a
 * socket makes that fail as locked, as before.
 */
export async function viaRunningService<T>(opts: ApplianceOptions, ask: (service: ContractClient) => Promise<T>, answerMs = ANSWER_MS): Promise<T | undefined> {
  const connected = await connectToWriter(opts);
  if (!connected) return undefined;
  try {
    return await answered(ask(connected.service), connected.socket, answerMs);
  } catch (e) {
    throw asOurs(e);
  } finally {
    connected.service.close();
  }
}

/**
 * viaRunningService for long work the service runs as a job (a scan, a restore): `start`
 * asks for it and gets it queued (within the answer time); then the job's jobProgress
 * events drive `progress` for as long as it runs. Resolves with what `outcome` reads from
 * the finished job (its `scan`, its `restore`); a job that fails or is cancelled is thrown
 * as the CLI's own one-line error.
 */
export async function jobViaRunningService<T>(
  opts: ApplianceOptions,
  start: (service: ContractClient) => Promise<Job>,
  progress: { update(p: ProgressReport): void },
  outcome: (job: Job) => T | undefined,
  answerMs = ANSWER_MS,
): Promise<T | undefined> {
  const connected = await connectToWriter(opts);
  if (!connected) return undefined;
  const { service, socket } = connected;
  try {
    let id: string | undefined;
    // Events of the job may arrive in the same read as the answer that names it.
    const early: Job[] = [];
    let heard!: (job: Job) => void;
    const finished = new Promise<Job>((resolveJob, reject) => {
      heard = (j) => {
        if (j.bytesTotal > 0) progress.update({ phase: j.phase, done: j.bytesDone, total: j.bytesTotal });
        if (j.finishedUs !== undefined) resolveJob(j);
      };
      service.on('jobProgress', (j) => (id === undefined ? early.push(j) : j.id === id && heard(j)));
      service.onClosed = (reason) => reject(new ChronodiskError('io', `the Chronodisk service went away during the job (${reason}); try again once it runs`));
    });
    const job = await answered(start(service), socket, answerMs);
    id = job.id;
    for (const j of early.splice(0)) if (j.id === id) heard(j);
    const done = await finished;
    if (done.phase === 'failed') throw new ChronodiskError(done.error?.code ?? 'io', done.error?.message ?? done.result ?? `${done.title} failed`, { remedy: done.error?.remedy });
    if (done.phase === 'cancelled') throw new ChronodiskError('refused', done.result ?? `${done.title}: cancelled`);
    const out = outcome(done);
    if (out === undefined) throw new ChronodiskError('io', `${done.title} ended in the service without saying what it did: ${done.result ?? done.phase}`);
    return out;
  } catch (e) {
    throw asOurs(e);
  } finally {
    service.onClosed = undefined;
    service.close();
  }
}

/** Whether a running service is the appliance's writer (it listens on the socket it named): a write verb then asks it. */
export function serviceIsWriter(opts: ApplianceOptions): boolean {
  return writerSocket(opts) !== undefined;
}

function writerSocket(opts: ApplianceOptions): string | undefined {
  const dir = resolve(applianceDir(opts));
  return existsSync(dir) ? WriterLock.holderSocket(dir) : undefined;
}

/** The service that holds the appliance's writer lock and listens on the socket it named, connected; undefined when there is none. */
async function connectToWriter(opts: ApplianceOptions): Promise<{ service: ContractClient; socket: string } | undefined> {
  const socket = writerSocket(opts);
  if (!socket) return undefined;
  try {
    return { service: await connectService(socket), socket };
  } catch (e) {
    // Stopping at this moment (its socket gone or refusing): open the appliance ourselves.
    // Not allowed to connect: say so, since opening it ourselves would only say "locked".
    if (isServiceError(e) && e.code === 'permission') throw new ChronodiskError('permission', e.message, { cause: e });
    return undefined;
  }
}

/** `reply`, or a one-line error once the service has been silent for `ms`. */
async function answered<T>(reply: Promise<T>, socket: string, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const silent = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ChronodiskError('io', `the Chronodisk service at ${socket} did not answer within ${ms / 1000} s; try again, or restart it`)), ms);
  });
  try {
    return await Promise.race([reply, silent]);
  } finally {
    clearTimeout(timer);
  }
}

/** The service's errors are ours, checked the same way: report them as if raised here. */
function asOurs(e: unknown): unknown {
  return isServiceError(e) ? new ChronodiskError(e.code, e.message, { cause: e, remedy: e.remedy }) : e;
}
