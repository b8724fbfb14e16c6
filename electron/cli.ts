/**
 * The `chronodisk` command line: builds one commander program from the verb table and maps
 * failures to the conventions every verb shares — exit 2 and one line for usage errors,
 * exit 1 and one line for runtime failures, a stack trace only with CHRONODISK_DEBUG.
 */
import { Command, CommanderError } from 'commander';
import { PointSyntaxError } from '../shared/point.js';
import { ChronodiskError, fromStrayFsError, indexDamaged, isIndexDamage } from './engine/errors.js';
import { verbs } from './cli/verbs.js';
import { version } from './version.js';
import { cliMessage } from './cli/remedy-advice.js';

export function buildProgram(): Command {
  const program = new Command('chronodisk')
    .description('A time machine for your disks: continuous block-level history on an appliance drive.')
    .version(version, '-V, --version')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  program.addHelpText(
    'after',
    '\nThe appliance is named by -a DIR or CHRONODISK_APPLIANCE. Points (--at): 1234, ' +
      '2026-11-25T10:00:00Z, -10m, @label, now.\nRun `chronodisk VERB --help` for a verb.',
  );
  for (const verb of verbs) {
    const cmd = program.command(verb.name).summary(verb.summary).description(verb.summary);
    cmd.exitOverride().configureOutput({ outputError: () => {} });
    verb.configure(cmd);
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    if (argv.length <= 2) {
      program.outputHelp();
      return 0;
    }
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    return report(e);
  }
}

function report(e: unknown): number {
  if (isIndexDamage(e)) e = indexDamaged(e);
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0) return 0;
    process.stderr.write(`chronodisk: ${e.message.replace(/^error: /, '')}; see --help\n`);
    return 2;
  }
  if (process.env.CHRONODISK_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
  e = fromStrayFsError(e, 'a file it needed') ?? e;
  if (e instanceof PointSyntaxError) {
    process.stderr.write(`chronodisk: ${e.message}\n`);
    return 2;
  }
  if (e instanceof ChronodiskError) {
    process.stderr.write(`chronodisk: ${cliMessage(e)}\n`);
    return e.code === 'usage' ? 2 : 1;
  }
  const msg = cliMessage(e);
  process.stderr.write(`chronodisk: ${msg.split('\n')[0]} (set CHRONODISK_DEBUG=1 for details)\n`);
  return 1;
}

const isEntry = process.argv[1] !== undefined && /chronodisk(\.js)?$|cli\.js$/.test(process.argv[1]);
if (isEntry) {
  // A reader that goes away (`chronodisk timeline | head`) is not an error of ours: stop
  // writing to it quietly instead of dying of an unhandled EPIPE (long verbs carry on and stop cleanly).
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
    });
  }
  main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`chronodisk: ${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
