import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parsePointSpec } from '../../shared/point.js';
import { shellWord } from '../../shared/shell-word.js';
import { Appliance } from '../engine/appliance.js';
import { readHeader } from '../engine/format/appliance-header.js';
import { ChronodiskError } from '../engine/errors.js';
import type { DiskRecord } from '../engine/store/catalog-state.js';
import type { PointInfo } from '../engine/timeline.js';

export interface ApplianceOptions {
  appliance?: string;
  keyFile?: string;
}

/** Adds -a/--appliance and --key-file, the options every appliance verb shares. */
export function applianceOptions(cmd: Command): Command {
  return cmd
    .option('-a, --appliance <dir>', 'the appliance directory (default: $CHRONODISK_APPLIANCE)')
    .option('--key-file <file>', 'read the passphrase of an encrypted appliance from this file');
}

export function applianceDir(opts: ApplianceOptions): string {
  const dir = opts.appliance ?? process.env.CHRONODISK_APPLIANCE;
  if (!dir) throw new ChronodiskError('usage', 'no appliance named; pass -a DIR or set CHRONODISK_APPLIANCE');
  return dir;
}

/**
 * A command line to suggest: `chronodisk WORDS`, with `-a DIR` when the appliance was
 * named by -a (a suggestion that leaves it out would fail without CHRONODISK_APPLIANCE).
 */
export function suggestedCommand(opts: ApplianceOptions, words: string): string {
  return `chronodisk ${words}${opts.appliance === undefined ? '' : ` -a ${shellWord(opts.appliance)}`}`;
}

/** The passphrase from CHRONODISK_PASSPHRASE, --key-file, or (on a terminal) a prompt. */
export async function passphraseFor(opts: ApplianceOptions, prompt = 'Passphrase: ', envName = 'CHRONODISK_PASSPHRASE'): Promise<string | undefined> {
  if (opts.keyFile) {
    try {
      return readFileSync(opts.keyFile, 'utf8').replace(/\r?\n$/, '');
    } catch {
      throw new ChronodiskError('not-found', `cannot read the key file ${opts.keyFile}; check --key-file`);
    }
  }
  const env = process.env[envName];
  if (env !== undefined) return env;
  if (process.stdin.isTTY && process.stderr.isTTY) return readHidden(prompt);
  return undefined;
}

/** Reads a line from the terminal without echoing it. */
export async function readHidden(prompt: string): Promise<string> {
  process.stderr.write(prompt);
  const stdin = process.stdin;
  stdin.setRawMode?.(true);
  stdin.resume();
  let text = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            return resolve();
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            return reject(new ChronodiskError('refused', 'interrupted; nothing was changed'));
          }
          if (ch === '\u007f') text = text.slice(0, -1);
          else text += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode?.(false);
    stdin.pause();
    process.stderr.write('\n');
  }
  return text;
}

/** Opens the appliance the options name, asking for a passphrase only when it is encrypted. */
export async function openAppliance(opts: ApplianceOptions, mode: { writable?: boolean; command?: string } = {}): Promise<Appliance> {
  return (await openWithAccess(opts, mode)).app;
}

/** What opened the appliance: a verb that opens it again elsewhere (worker threads) needs it. */
export interface ApplianceAccess {
  dir: string;
  passphrase?: string;
}

/** The appliance directory the options name, and its passphrase when it is encrypted (asked for only then). */
export async function applianceAccess(opts: ApplianceOptions): Promise<ApplianceAccess> {
  const dir = applianceDir(opts);
  let passphrase: string | undefined;
  try {
    if (readHeader(dir).encryption) passphrase = await passphraseFor(opts);
  } catch (e) {
    // Appliance.open names a missing directory or a non-appliance best; let it.
    if (!(e instanceof ChronodiskError)) throw e;
  }
  return { dir, ...(passphrase !== undefined ? { passphrase } : {}) };
}

async function openWithAccess(opts: ApplianceOptions, mode: { writable?: boolean; command?: string }): Promise<{ app: Appliance; access: ApplianceAccess }> {
  const access = await applianceAccess(opts);
  const app = await Appliance.open(access.dir, { writable: mode.writable, passphrase: access.passphrase, command: mode.command });
  return { app, access };
}

/** Runs `fn` with the appliance open, closing it however `fn` ends. */
export async function withAppliance<T>(
  opts: ApplianceOptions,
  mode: { writable?: boolean; command?: string },
  fn: (app: Appliance, access: ApplianceAccess) => Promise<T> | T,
): Promise<T> {
  const { app, access } = await openWithAccess(opts, mode);
  try {
    return await fn(app, access);
  } finally {
    app.close();
  }
}

/** Resolves --at text (parsed first, so a malformed point is a usage error before any I/O). */
export function resolveAt(app: Appliance, disk: DiskRecord, text: string): PointInfo {
  return app.timeline.resolve(disk, parsePointSpec(text));
}
