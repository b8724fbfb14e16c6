/**
 * A small real service for the shell's tests, until `chronodisk service` (branch
 * wt-service) lands: a real unix socket speaking the NDJSON envelopes of
 * shared/contract.ts. It answers the few channels the tests use, records every request
 * that reached it, pushes events, and can be stopped and started again at the same path
 * (a service restart).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { NdjsonTransport } from '../../electron/service/ndjson-transport.js';
import { parseEnvelope, type EventChannel, type Status } from '../../shared/contract.js';

export class ServicePeer {
  /** Every request that reached the service: channel and payload. */
  readonly received: Array<{ channel: string; payload: unknown }> = [];
  private server: Server | undefined;
  private readonly sockets = new Set<{ sock: Socket; t: NdjsonTransport }>();
  paused: string | undefined;

  constructor(readonly path: string) {}

  get connections(): number {
    return this.sockets.size;
  }

  status(): Status {
    return {
      appliance: '/media/backup/appliance',
      version: '0.1.0',
      writer: true,
      encrypted: false,
      ...(this.paused ? { paused: this.paused } : {}),
      space: { totalBytes: 1 << 30, freeBytes: 1 << 29, applianceBytes: 1 << 20 },
    };
  }

  async start(): Promise<void> {
    rmSync(this.path, { force: true });
    const server = createServer((sock) => {
      const t = new NdjsonTransport(sock);
      const entry = { sock, t };
      this.sockets.add(entry);
      sock.on('close', () => this.sockets.delete(entry));
      t.onMessage((line) => this.answer(t, line));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
    this.server = server;
  }

  /** Pushes an event to every client. */
  emit(channel: EventChannel, payload: unknown): void {
    for (const { t } of this.sockets) t.send(JSON.stringify({ type: 'event', channel, payload }));
  }

  /** Goes away as a crashed or stopped service does: connections cut, socket gone. */
  async stop(): Promise<void> {
    for (const { sock } of this.sockets) sock.destroy();
    this.sockets.clear();
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
    rmSync(this.path, { force: true });
  }

  private answer(t: NdjsonTransport, line: string): void {
    const m = parseEnvelope(line);
    if (m.type !== 'request') return;
    this.received.push({ channel: m.channel, payload: m.payload });
    const ok = (payload: unknown) => t.send(JSON.stringify({ type: 'response', id: m.id, ok: true, payload }));
    const fail = (code: string, message: string, remedy?: string) => t.send(JSON.stringify({ type: 'response', id: m.id, ok: false, error: { code, message, remedy } }));
    switch (m.channel) {
      case 'status':
        return ok(this.status());
      case 'listDisks':
        return ok([]);
      case 'listJobs':
        return ok([]);
      case 'pauseCapture':
        this.paused = 'paused by you';
        return ok({});
      case 'resumeCapture':
        this.paused = undefined;
        return ok({});
      case 'listVolumes':
        return fail('damaged', 'the index does not match segment 3 at byte 64', 'rebuild-index');
      case 'resolvePoint':
        return fail('not-found', `no disk named ${JSON.stringify((m.payload as { disk: string }).disk)}\nsecond line that must not reach the window`);
      default:
        return fail('usage', `this test service does not answer ${m.channel}`);
    }
  }
}
