import type { Verb } from './verb.js';
import { formatIsoMicros } from '../../shared/time.js';
import { formatBytes } from '../../shared/units.js';
import { readHeader } from '../engine/format/appliance-header.js';
import { ChronodiskError } from '../engine/errors.js';
import { RestoreJournal, type RestoreJob } from '../engine/restore/restore-journal.js';
import { applianceDir, applianceOptions, type ApplianceOptions } from './appliance-access.js';
import { printJson, printLine, printTable } from './output.js';

function jobJson(j: RestoreJob) {
  return {
    id: j.id,
    kind: j.kind,
    disk: j.disk,
    seq: j.seq,
    target: j.target,
    ...(j.upToDateSeq !== undefined ? { beforeRestoreSeq: j.upToDateSeq } : {}),
    bytesPlanned: j.total,
    bytesDone: j.watermark,
    started: formatIsoMicros(j.startedUs),
    updated: formatIsoMicros(j.updatedUs),
    pid: j.pid,
  };
}

export const jobsVerb: Verb = {
  name: 'jobs',
  summary: 'List unfinished restores (an interrupted restore finishes when run again)',
  configure(cmd) {
    applianceOptions(cmd)
      .option('--discard <id>', 'forget an unfinished restore (its target stays as it is: partly written)')
      .option('--json', 'print JSON')
      .action((opts: ApplianceOptions & { discard?: string; json?: boolean }) => {
        const dir = applianceDir(opts);
        readHeader(dir); // a clear message when DIR is not an appliance
        const journal = new RestoreJournal(dir);
        if (opts.discard !== undefined) {
          const j = journal.get(opts.discard);
          if (!j) throw new ChronodiskError('not-found', `no unfinished restore ${opts.discard}; list them with chronodisk jobs`);
          journal.remove(j);
          if (opts.json) printJson({ discarded: j.id });
          else printLine(`Discarded restore ${j.id}; ${j.target} is left partly written.`);
          return;
        }
        const jobs = journal.list();
        if (opts.json) {
          printJson({ jobs: jobs.map(jobJson), damaged: journal.damaged() });
          return;
        }
        for (const d of journal.damaged()) printLine(`unreadable journal: ${d}`);
        if (jobs.length === 0) return printLine('No unfinished restores.');
        printTable([
          ['ID', 'KIND', 'DISK', 'POINT', 'TARGET', 'DONE', 'UPDATED'],
          ...jobs.map((j) => [j.id, j.kind, j.disk, String(j.seq), j.target, `${formatBytes(j.watermark)} of ${formatBytes(j.total)}`, formatIsoMicros(j.updatedUs)]),
        ]);
        printLine(`${jobs.length} unfinished; run the same restore again to finish one.`);
      });
  },
};
