import type { Command } from 'commander';

/**
 * One verb of the `chronodisk` command. `configure` declares its arguments and options and
 * sets its action on the command it is given; the verb table in verbs.ts lists them all.
 */
export interface Verb {
  name: string;
  summary: string;
  configure(cmd: Command): void;
}
