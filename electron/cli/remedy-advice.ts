import type { Remedy } from '../../shared/errors.js';

/** The command that carries out each remedy an error can name (see shared/errors.ts). */
const commands: Record<Remedy, string> = {
  verify: 'chronodisk check --read-data',
  'rebuild-index': 'chronodisk rebuild-index',
};

/** An error's one line for the terminal: its message, then the command to run when it names a remedy. */
export function cliMessage(e: unknown): string {
  const message = (e as Error)?.message ?? String(e);
  const remedy = (e as { remedy?: Remedy } | undefined)?.remedy;
  return remedy && commands[remedy] ? `${message}; run ${commands[remedy]}` : message;
}
