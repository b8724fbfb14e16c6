import type { Verb } from './verb.js';
import { DEFAULT_SERVICE_SOCKET } from '../service/service-socket-client.js';
import { groupId, listenOnSocket } from '../service/socket-listener.js';
import { runServiceUntilStopped, serviceOptions, type ServiceRunOptions } from './service-run.js';

export const serviceVerb: Verb = {
  name: 'service',
  summary: "Run the privileged service: the appliance's writer, answering the desktop window and the CLI on a unix socket",
  configure(cmd) {
    serviceOptions(cmd)
      .option('--socket <path>', 'the unix socket to listen on', DEFAULT_SERVICE_SOCKET)
      .option('--group <group>', 'let this group connect (socket mode 0660 root:GROUP instead of 0600)')
      .addHelpText('after', '\nProtocol, privileges and events: docs/SERVICE.md. Stop with SIGTERM or Ctrl-C (capture ends with a final point).')
      .action(async (opts: ServiceRunOptions & { socket: string; group?: string }) => {
        // Checked before the appliance is opened: a bad --group changes nothing.
        const gid = opts.group === undefined ? undefined : groupId(opts.group);
        await runServiceUntilStopped(opts, 'chronodisk service', async (service) => {
          const s = await listenOnSocket(service, { path: opts.socket, gid });
          const mode = `0${s.mode.toString(8)}`;
          return [{ json: { socket: s.path, mode }, text: `Listening on ${s.path} (mode ${mode}).`, close: s.close }];
        });
      });
  },
};
