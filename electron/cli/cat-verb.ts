import type { Verb } from './verb.js';
import { ChronodiskError } from '../engine/errors.js';
import type { ApplianceOptions } from './appliance-access.js';
import { fileVerbOptions, withFileSystemAt } from './file-access.js';

/** Writes a chunk to stdout, waiting when the pipe is full so a large file never piles up in memory. */
async function writeOut(chunk: Buffer): Promise<void> {
  if (process.stdout.write(chunk)) return;
  await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
}

export const catVerb: Verb = {
  name: 'cat',
  summary: 'Write a file of a disk as it was at a point to stdout',
  configure(cmd) {
    fileVerbOptions(cmd, 'latest')
      .argument('<path>', 'the file inside the filesystem')
      .action(async (disk: string, path: string, opts: ApplianceOptions & { at: string }) => {
        await withFileSystemAt(opts, disk, opts.at, async (fs) => {
          const stat = await fs.stat(path);
          if (stat.type !== 'file') throw new ChronodiskError('usage', `${path} is a ${stat.type === 'dir' ? 'directory' : stat.type}, not a file; use ls`);
          await fs.readFile(path, (chunk) => writeOut(Buffer.from(chunk)));
        });
      });
  },
};
