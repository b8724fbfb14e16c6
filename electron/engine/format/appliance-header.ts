import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { shellWord } from '../../../shared/shell-word.js';
import { FORMAT_VERSION, HEADER_FILE } from './constants.js';
import type { WrappedKey } from './keys.js';
import { ChronodiskError } from '../errors.js';
import { fsyncDir } from '../store/durable-file.js';

/** The one-line errors for an appliance path that names nothing, or a file. */
export const noApplianceDir = (dir: string) =>
  new ChronodiskError('not-found', `the appliance directory ${dir} does not exist; check -a, or create one with chronodisk init ${shellWord(dir)}`);
export const notADirectory = (dir: string) => new ChronodiskError('not-appliance', `${dir} is not a directory; name the appliance directory with -a`);

/**
 * chronodisk.json: what makes a directory an appliance. Plain JSON so a person (and
 * another program) can read it; the only secret, the data key, is wrapped.
 */
export interface ApplianceHeader {
  format: 'chronodisk-appliance';
  version: number;
  id: string; // UUID
  createdUs: number;
  encryption: null | ({ cipher: 'aes-256-gcm' } & WrappedKey);
}

export function newHeader(encryption: ApplianceHeader['encryption']): ApplianceHeader {
  return { format: 'chronodisk-appliance', version: FORMAT_VERSION, id: randomUUID(), createdUs: Date.now() * 1000, encryption };
}

export function uuidBytes(id: string): Buffer {
  return Buffer.from(id.replace(/-/g, ''), 'hex');
}

export function readHeader(dir: string): ApplianceHeader {
  let text: string;
  try {
    text = readFileSync(join(dir, HEADER_FILE), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      if (!existsSync(dir)) {
        throw noApplianceDir(dir);
      }
      throw new ChronodiskError('not-appliance', `${dir} is not a Chronodisk appliance (no ${HEADER_FILE}); create one with chronodisk init ${shellWord(dir)}`);
    }
    if (code === 'ENOTDIR') throw notADirectory(dir);
    throw e;
  }
  let h: ApplianceHeader;
  try {
    h = JSON.parse(text) as ApplianceHeader;
  } catch {
    throw new ChronodiskError('damaged', `${join(dir, HEADER_FILE)} is not valid JSON; the appliance header is damaged`);
  }
  if (h.format !== 'chronodisk-appliance') throw new ChronodiskError('not-appliance', `${dir} is not a Chronodisk appliance (its ${HEADER_FILE} says otherwise)`);
  if (h.version > FORMAT_VERSION) throw new ChronodiskError('not-appliance', `${dir} has appliance format ${h.version}; this Chronodisk reads up to ${FORMAT_VERSION}, so update it`);
  return h;
}

/** Replaces the header atomically: write a temp file, fsync, rename, fsync the directory. */
export function writeHeader(dir: string, h: ApplianceHeader, exclusive = false): void {
  const path = join(dir, HEADER_FILE);
  const tmp = exclusive ? path : `${path}.tmp`;
  const fd = openSync(tmp, exclusive ? 'wx' : 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(h, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (!exclusive) renameSync(tmp, path);
  fsyncDir(dir);
}
