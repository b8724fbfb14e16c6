import { cpus, totalmem } from 'node:os';
import { benchCommit } from './appliance.js';
import { benchCapture } from './capture.js';
import { benchExport } from './appliance-export.js';
import { benchImageRead } from './appliance-history.js';
import { benchNbd } from './nbd.js';
import { benchRestore } from './restore.js';
import { benchRetention } from './retention.js';
import { benchSplit } from './split.js';
import { benchFiles } from './files.js';
import { calibrate, describe } from './calibrate.js';
import { beginSuite, collected, fmtMs, log, now, printToStderr, setScale } from './measure.js';

/**
 * `npm run bench [-- NAME... | --json | --quick | --help]`: runs the named suites (all by
 * default) and prints each one's tables; --json prints one JSON object on stdout instead.
 * A bench file adds itself with one line in `suites`.
 */

interface Suite {
  name: string;
  about: string;
  run(): Promise<void>;
}

const suites: Suite[] = [
  { name: 'commit', about: 'appliance commit throughput, MB/s, beside pwrite+fdatasync of a plain file', run: benchCommit },
  { name: 'image-read', about: 'time-image random 4 KiB read latency at 10k and 1M captured writes, beside pread', run: benchImageRead },
  { name: 'export', about: 'sequential time-image export, MB/s, cold and warm, beside a plain file read', run: benchExport },
  { name: 'capture', about: 'scan pass throughput (first, unchanged, 1% changed) beside restic and borg; track latency', run: benchCapture },
  { name: 'nbd', about: 'NBD server read and write throughput with nbdcopy, beside nbdkit file', run: benchNbd },
  { name: 'restore', about: 'whole-disk rollback of 10 and 100 MiB changed on a 4 GiB disk, beside a full dd copy', run: benchRestore },
  { name: 'split', about: 'split capture durable write throughput with nbdcopy --flush, beside nbdkit file', run: benchSplit },
  { name: 'files', about: 'listing a 10,000-entry directory and restoring 1 GiB of files, beside the kernel on the loop-mounted image', run: benchFiles },
  { name: 'retention', about: 'thinning throughput, MB/s of segments rewritten, beside copying the same segment files', run: benchRetention },
];

function usage(): string {
  const width = Math.max(...suites.map((s) => s.name.length));
  return [
    'usage: node dist/test/bench/run.js [NAME...] [--json] [--quick]',
    '',
    'suites (all run when none is named):',
    ...suites.map((s) => `  ${s.name.padEnd(width)}  ${s.about}`),
    '',
    '  --json   print the results as one JSON object on stdout (progress goes to stderr)',
    '  --quick  an eighth of the data volumes: a smoke run, figures not comparable',
    '  BENCH_DIR=/path  where temporary appliances and files go (default: the OS temp dir)',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  const json = argv.includes('--json');
  if (json) printToStderr();
  if (argv.includes('--quick')) setScale(1 / 8);
  const unknownFlag = argv.find((a) => a.startsWith('-') && !['--json', '--quick'].includes(a));
  if (unknownFlag) {
    process.stderr.write(`unknown option ${unknownFlag}\n\n${usage()}\n`);
    return 2;
  }
  const names = argv.filter((a) => !a.startsWith('-'));
  const unknown = names.filter((n) => !suites.some((s) => s.name === n));
  if (unknown.length) {
    process.stderr.write(`no bench suite named ${unknown.join(', ')}\n\n${usage()}\n`);
    return 2;
  }
  const chosen = names.length ? suites.filter((s) => names.includes(s.name)) : suites;
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform };
  log(`# Chronodisk bench — ${machine.cpus} × ${machine.cpu}, ${machine.memGiB} GiB, Node ${machine.node}, ${new Date().toISOString()}`);
  const calibration: Record<string, ReturnType<typeof calibrate>> = { before: calibrate() };
  log(describe(calibration.before!));
  const seconds: Record<string, number> = {};
  const failed: Record<string, string> = {};
  for (const s of chosen) {
    log('');
    log(`# ${s.name}: ${s.about}`);
    beginSuite(s.name);
    const t0 = now();
    try {
      await s.run();
    } catch (e) {
      // One broken suite must not hide the figures of the others.
      failed[s.name] = e instanceof Error ? (e.stack ?? e.message) : String(e);
      log(`  FAILED: ${failed[s.name]}`);
    }
    seconds[s.name] = (now() - t0) / 1000;
    log(`  (${s.name} took ${fmtMs(seconds[s.name]! * 1000)})`);
  }
  calibration.after = calibrate();
  log('');
  log(`after: ${describe(calibration.after)}`);
  if (json) {
    const result = Object.fromEntries(chosen.map((s) => [s.name, { seconds: seconds[s.name], failed: failed[s.name], tables: collected().get(s.name) ?? [] }]));
    process.stdout.write(JSON.stringify({ machine, calibration, date: new Date().toISOString(), suites: result }, null, 2) + '\n');
  }
  return Object.keys(failed).length ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
