import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { isServiceError, type ContractClient } from '../../shared/contract-client.js';
import { ChronodiskError } from '../engine/errors.js';
import { WriterLock } from '../engine/store/writer-lock.js';
import { connectService } from '../service/service-socket-client.js';
import { applianceDir, type ApplianceOptions } from './appliance-access.js';

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
  const dir = resolve(applianceDir(opts));
  const socket = existsSync(dir) ? WriterLock.holderSocket(dir) : undefined;
  if (!socket) return undefined;
  let service: ContractClient;
  try {
    service = await connectService(socket);
  } catch (e) {
    // Stopping at this moment (its socket gone or refusing): open the appliance ourselves.
    // Not allowed to connect: say so, since opening it ourselves would only say "locked".
    if (isServiceError(e) && e.code === 'permission') throw new ChronodiskError('permission', e.message, { cause: e });
    return undefined;
  }
  let timer: NodeJS.Timeout | undefined;
  const silent = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ChronodiskError('io', `the Chronodisk service at ${socket} did not answer within ${answerMs / 1000} s; try again, or restart it`)), answerMs);
  });
  try {
    return await Promise.race([ask(service), silent]);
  } catch (e) {
    // The service's errors are ours, checked the same way: report them as if raised here.
    throw isServiceError(e) ? new ChronodiskError(e.code, e.message, { cause: e, remedy: e.remedy }) : e;
  } finally {
    clearTimeout(timer);
    service.close();
  }
}
