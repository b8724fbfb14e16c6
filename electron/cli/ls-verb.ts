import type { Verb } from './verb.js';
import type { FileStat } from '../engine/fs/filesystem.js';
import { formatIsoMicros } from '../../shared/time.js';
import type { ApplianceOptions } from './appliance-access.js';
import { fileVerbOptions, withFileSystemAt } from './file-access.js';
import { printJson, printTable } from './output.js';

/** The --json shape of one entry. */
export function fileEntryJson(s: FileStat) {
  return {
    name: s.name,
    type: s.type,
    size: s.size,
    mtime: formatIsoMicros(s.mtimeUs),
    mode: s.mode,
    uid: s.uid,
    gid: s.gid,
    ...(s.target !== undefined ? { target: s.target } : {}),
  };
}

export const lsVerb: Verb = {
  name: 'ls',
  summary: 'List a directory of a disk as it was at a point',
  configure(cmd) {
    fileVerbOptions(cmd, 'latest')
      .argument('[path]', 'the directory (or file) inside the filesystem', '/')
      .option('--json', 'print JSON')
      .action(async (disk: string, path: string, opts: ApplianceOptions & { at: string; json?: boolean }) => {
        await withFileSystemAt(opts, disk, opts.at, async (fs) => {
          const stat = await fs.stat(path);
          const entries = stat.type === 'dir' ? await fs.list(path) : [stat];
          entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
          if (opts.json) return printJson(entries.map(fileEntryJson));
          printTable([
            ['MODE', 'UID', 'GID', 'SIZE', 'MTIME', 'NAME'],
            ...entries.map((e) => [
              (e.mode & 0o7777).toString(8).padStart(4, '0'),
              String(e.uid),
              String(e.gid),
              String(e.size),
              formatIsoMicros(e.mtimeUs),
              `${e.name}${e.type === 'dir' ? '/' : ''}${e.target !== undefined ? ` -> ${e.target}` : ''}`,
            ]),
          ]);
        });
      });
  },
};
