import type { Verb } from './verb.js';
import { parsePointSpec } from '../../shared/point.js';
import { formatIsoMicros } from '../../shared/time.js';
import { ChronodiskError } from '../engine/errors.js';
import { ImageReadPool } from '../engine/nbd/image-read-pool.js';
import { serveImages } from '../engine/nbd/serve-images.js';
import { applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { addressOptions, listenAddress, type AddressOptions } from './nbd-address.js';
import { watchStopSignals } from './stop-signals.js';
import { printJson, printLine } from './output.js';

export const serveVerb: Verb = {
  name: 'serve',
  summary: 'Serve points of disks as read-only NBD disks (qemu, nbdcopy, nbdfuse, a VM)',
  configure(cmd) {
    addressOptions(applianceOptions(cmd))
      .argument('[exports...]', 'DISK@POINT to serve (default: every disk at now)')
      .option('--overlay', 'give each connection a throwaway write overlay (history is never touched)')
      .option('--json', 'print JSON once listening')
      .action(async (specs: string[], opts: ApplianceOptions & AddressOptions & { overlay?: boolean; json?: boolean }) => {
        const wanted = specs.map((s) => {
          const at = s.indexOf('@'); // disk names never hold '@'; a bookmark point may
          if (at <= 0) throw new ChronodiskError('usage', `"${s}" is not DISK@POINT (e.g. sda@now, sda@1234, sda@-1h)`);
          return { text: s, disk: s.slice(0, at), spec: parsePointSpec(s.slice(at + 1)) };
        });
        await withAppliance(opts, {}, async (app, access) => {
          const list = wanted.length ? wanted : app.disks().map((d) => ({ text: `${d.name}@now`, disk: d.name, spec: parsePointSpec('now') }));
          const points = list.map((w) => {
            const disk = app.disk(w.disk);
            return { name: w.text, disk, point: app.timeline.resolve(disk, w.spec) };
          });
          const address = listenAddress(opts, `/run/chronodisk/serve-${process.pid}.sock`);
          // Reads on worker threads when they can run (a built engine), else in-process.
          const readers = await ImageReadPool.start(access);
          const images = points.map(({ name, disk, point: p }) => ({
            name,
            description: `${disk.name} at point ${p.seq} (${formatIsoMicros(p.timeUs)})`,
            source: readers ? readers.image(disk, p.seq) : app.image(disk, p.seq),
            seq: p.seq,
            time: p.timeUs,
          }));
          const signals = watchStopSignals();
          try {
            const { server, listening } = await serveImages(images, address, { overlay: opts.overlay, onError: (e) => process.stderr.write(`chronodisk: ${(e as Error).message}\n`) });
            const exports = images.map((i) => ({ name: i.name, seq: i.seq, time: formatIsoMicros(i.time), uri: listening.uri(i.name) }));
            if (opts.json) printJson({ ...('socket' in address ? { socket: address.socket } : { host: address.host, port: listening.port }), overlay: Boolean(opts.overlay), exports });
            else for (const e of exports) printLine(`${e.name}: point ${e.seq} at ${e.time} — ${e.uri}`);
            await signals.stopped;
            await server.close();
          } finally {
            signals.release();
            await readers?.close();
          }
        });
      });
  },
};
