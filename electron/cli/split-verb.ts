import type { Verb } from './verb.js';
import { formatIsoMicros } from '../../shared/time.js';
import { SplitCapture } from '../engine/capture/split-capture.js';
import { ChronodiskError } from '../engine/errors.js';
import { ExportTable } from '../engine/nbd/export.js';
import { NbdServer } from '../engine/nbd/server.js';
import { applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { addressOptions, listenAddress, type AddressOptions } from './nbd-address.js';
import { watchStopSignals } from './stop-signals.js';
import { printLine } from './output.js';
import { cliMessage } from './remedy-advice.js';

export const splitVerb: Verb = {
  name: 'split',
  summary: 'Stand in front of a split-mode disk as an NBD server: every write becomes a point (when no writer runs)',
  configure(cmd) {
    addressOptions(applianceOptions(cmd))
      .argument('<disk>', 'a disk protected with --mode split')
      .option('--json', 'print JSON once listening, then one line per point')
      .action(async (name: string, opts: ApplianceOptions & AddressOptions & { json?: boolean }) => {
        await withAppliance(opts, { writable: true, command: 'chronodisk split' }, async (app) => {
          const disk = app.disk(name);
          if (disk.mode !== 'split') throw new ChronodiskError('usage', `${disk.name} is protected in ${disk.mode} mode; protect it with --mode split to serve it through split`);
          // One line per point, but one write for the points of one group commit (they
          // resolve together; a write to a pipe or file is a synchronous syscall). A
          // microtask still prints a point before its write is acknowledged.
          let pointLines: string[] = [];
          const flushPoints = () => {
            if (pointLines.length) printLine(pointLines.join('\n'));
            pointLines = [];
          };
          const split = await SplitCapture.start(app, disk, {
            onPoint: (p) => {
              if (!opts.json) return;
              if (pointLines.length === 0) queueMicrotask(flushPoints);
              pointLines.push(JSON.stringify({ event: 'point', disk: p.disk, seq: p.seq, time: formatIsoMicros(p.timeUs), bytes: p.bytes }));
            },
            // Thinned early, full, room again: a status line (between the point lines).
            onSpace: (s) => {
              flushPoints();
              printLine(opts.json ? JSON.stringify({ event: 'status', disk: disk.name, state: s.state, message: s.message }) : `status: ${s.message}`);
            },
            onSpaceError: (e) => process.stderr.write(`chronodisk: ${cliMessage(e)}\n`),
          });
          flushPoints(); // the baseline's point, before "listening"
          const server = new NbdServer({
            provider: new ExportTable([{ name: disk.name, description: `${disk.name} through split capture`, open: () => split.open() }], disk.name),
            onError: (e) => process.stderr.write(`chronodisk: ${cliMessage(e)}\n`),
          });
          const signals = watchStopSignals();
          try {
            const listening = await server.listen(listenAddress(opts, `/run/chronodisk/${disk.name}.sock`));
            if (opts.json) printLine(JSON.stringify({ event: 'listening', disk: disk.name, uri: listening.uri(disk.name), socket: listening.socket, port: listening.port }));
            else printLine(`Serving ${disk.name} through split capture at ${listening.uri(disk.name)}; stop with Ctrl-C.`);
            await signals.stopped;
          } finally {
            signals.release();
            await server.close();
            await split.close();
          }
          flushPoints();
          if (!opts.json) printLine('Stopped; every acknowledged write is a durable point.');
          else printLine(JSON.stringify({ event: 'stopped' }));
        });
      });
  },
};
