import type { Verb } from './verb.js';
import { parseDiskAddress } from '../engine/files/disk-address.js';
import { fileVersions } from '../engine/files/file-versions.js';
import { formatIsoMicros } from '../../shared/time.js';
import { applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { printJson, printLine, printTable } from './output.js';

export const versionsVerb: Verb = {
  name: 'versions',
  summary: 'List the points at which a file changed',
  configure(cmd) {
    applianceOptions(cmd)
      .argument('<disk>', 'DISK (its only filesystem) or DISK:N (partition N)')
      .argument('<path>', 'the file inside the filesystem')
      .option('--json', 'print JSON')
      .action(async (diskText: string, path: string, opts: ApplianceOptions & { json?: boolean }) => {
        const address = parseDiskAddress(diskText);
        await withAppliance(opts, {}, async (app) => {
          const r = await fileVersions(app, address, path);
          const rows = r.versions.map((v) => ({
            seq: v.point.seq,
            time: formatIsoMicros(v.point.timeUs),
            kind: v.kind,
            size: v.size,
            mtime: formatIsoMicros(v.mtimeUs),
            ...(v.sha256 ? { sha256: v.sha256 } : {}),
          }));
          if (opts.json) return printJson(rows);
          if (rows.length === 0) return printLine(`${path} exists at no point of ${address.disk}.`);
          printTable([['SEQ', 'TIME', 'CHANGE', 'SIZE', 'MTIME'], ...rows.map((v) => [String(v.seq), v.time, v.kind, String(v.size), v.mtime])]);
        });
      });
  },
};
