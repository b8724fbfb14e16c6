import type { Verb } from './verb.js';
import { parsePointSpec } from '../../shared/point.js';
import { formatIsoMicros } from '../../shared/time.js';
import { ChronodiskError } from '../engine/errors.js';
import type { Appliance } from '../engine/appliance.js';
import { ImageServeProcesses, servePointsInProcesses, type ServedPoint } from '../engine/nbd/image-serve-processes.js';
import { serveImages, type ServeOptions } from '../engine/nbd/serve-images.js';
import type { ListenAddress } from '../engine/nbd/server.js';
import { applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { addressOptions, listenAddress, type AddressOptions } from './nbd-address.js';
import { watchStopSignals } from './stop-signals.js';
import { printJson, printLine } from './output.js';
import { cliMessage } from './remedy-advice.js';

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
          const served = points.map(({ name, disk, point: p }) => ({
            name,
            description: `${disk.name} at point ${p.seq} (${formatIsoMicros(p.timeUs)})`,
            disk: disk.name,
            seq: p.seq,
            time: p.timeUs,
          }));
          const onError = (e: unknown) => process.stderr.write(`chronodisk: ${cliMessage(e)}\n`);
          const signals = watchStopSignals();
          try {
            // Connections are served by child processes when they can run (a built engine),
            // else here, reading in-process.
            const serving = ImageServeProcesses.available()
              ? await servePointsInProcesses(access.dir, served, address, { overlay: opts.overlay, onError, passphrase: access.passphrase })
              : await serveInProcess(app, served, address, { overlay: opts.overlay, onError });
            const { listening } = serving;
            const exports = served.map((i) => ({ name: i.name, seq: i.seq, time: formatIsoMicros(i.time), uri: listening.uri(i.name) }));
            if (opts.json) printJson({ ...('socket' in address ? { socket: address.socket } : { host: address.host, port: listening.port }), overlay: Boolean(opts.overlay), exports });
            else for (const e of exports) printLine(`${e.name}: point ${e.seq} at ${e.time} — ${e.uri}`);
            await signals.stopped;
            await serving.close();
          } finally {
            signals.release();
          }
        });
      });
  },
};

/** The same export served by this process alone, reading time images in-process. */
async function serveInProcess(app: Appliance, points: ServedPoint[], address: ListenAddress, options: ServeOptions) {
  const images = points.map((p) => ({ name: p.name, description: p.description, source: app.image(app.disk(p.disk), p.seq) }));
  const { server, listening } = await serveImages(images, address, options);
  return { listening, close: () => server.close() };
}
