import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, tempDir } from '../devices/loop-device.js';
import { runCli } from '../helpers/cli.js';
import { client, rawExchange, startServiceProcess, type ServiceProcess } from './service-fixture.js';

const request = (id: number, channel: string, payload?: unknown) => `${JSON.stringify({ type: 'request', id, channel, ...(payload !== undefined ? { payload } : {}) })}\n`;

/** Hostile and broken clients of the unix socket: each gets a one-line error or a closed connection; the service stays up. */
describe('the service socket under hostile input', () => {
  const tmp = tempDir('chronodisk-service-hostile-');
  const app = join(tmp.dir, 'app');
  const socket = join(tmp.dir, 'service.sock');
  const split = join(tmp.dir, 'split');
  let service: ServiceProcess;

  beforeAll(async () => {
    sh('truncate', ['-s', '32M', join(tmp.dir, 'vol.img')]);
    sh('mkfs.ext4', ['-q', '-F', join(tmp.dir, 'vol.img')]);
    expect(runCli(['init', app]).status).toBe(0);
    expect(runCli(['protect', join(tmp.dir, 'vol.img'), '-a', app, '--name', 'vol']).status).toBe(0);
    expect(runCli(['capture', 'vol', '-a', app]).status).toBe(0);
    service = await startServiceProcess(['-a', app, '--socket', socket, '--split-dir', split]);
  }, 120_000);

  afterAll(async () => {
    await service?.stop('SIGKILL');
    tmp.remove();
  });

  it('creates the socket 0600', () => {
    const st = statSync(socket);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect(service.lines.find((l) => l.event === 'listening')).toMatchObject({ socket, mode: '0600' });
  });

  it('answers bad JSON, bad envelopes, unknown channels and bad payloads with one-line errors, and keeps serving the connection', async () => {
    const hostile: Array<string | Buffer> = [
      'not json\n',
      '[1,2]\n',
      `${'['.repeat(50_000)}${']'.repeat(50_000)}\n`,
      Buffer.from([0xff, 0xfe, 0x7b, 0x0a]),
      request(5, 'nope', {}),
      request(6, 'timeline', { disk: 'a/b' }),
      request(7, 'status'),
      `${JSON.stringify({ type: 'response', id: 8, ok: true, payload: {} })}\n`,
      request(9, '__proto__', {}),
      request(10, 'restoreDisk', { disk: 'vol', at: 'now', to: '/dev/vda', confirm: 'yes' }),
      request(11, 'listFiles', { disk: 'vol', at: 'now', path: '/../../../etc' }),
      request(12, 'timeline', { disk: 'vol', limit: -1 }),
      `${JSON.stringify({ type: 'request', id: -1, channel: 'status', payload: {} })}\n`,
      `${JSON.stringify({ type: 'request', id: 1e300, channel: 'status', payload: {} })}\n`,
      request(13, 'protectDisk', { device: '/etc/passwd', name: 'x', mode: 'scan' }),
      request(99, 'status', {}),
    ];
    const exchange = await rawExchange(socket, hostile);
    expect(exchange.closed).toBe(false);
    // Events (captureStatus…) may come between the responses.
    const replies = exchange.replies.filter((r) => r.type === 'response');
    expect(replies).toHaveLength(hostile.length);
    const byId = new Map(replies.map((r) => [r.id as number, r]));
    for (const r of replies) {
      expect(r.type).toBe('response');
      if (r.ok === false) expect(String((r.error as { message: string }).message)).not.toMatch(/\n/);
    }
    const errs = replies.filter((r) => r.ok === false).map((r) => r.error as { code: string; message: string });
    expect(errs.filter((e) => e.message === 'message is not JSON')).toHaveLength(2);
    expect(byId.get(5)).toMatchObject({ ok: false, error: { code: 'usage', message: 'unknown request channel "nope"' } });
    expect(byId.get(6)).toMatchObject({ ok: false, error: { code: 'usage', message: expect.stringMatching(/^bad timeline request: disk: /) } });
    expect(byId.get(7)).toMatchObject({ ok: false, error: { code: 'usage', message: expect.stringMatching(/^bad envelope/) } });
    expect(byId.get(8)).toMatchObject({ ok: false, error: { code: 'usage', message: expect.stringMatching(/sends requests/) } });
    expect(byId.get(9)).toMatchObject({ ok: false, error: { code: 'usage' } });
    expect(byId.get(10)).toMatchObject({ ok: false, error: { code: 'usage', message: expect.stringMatching(/confirm/) } });
    // Paths stay inside the image's filesystem: '..' of its root is its root.
    const files = byId.get(11) as { ok: boolean; payload?: { entries: Array<{ name: string }> } };
    if (files.ok) expect(files.payload!.entries.map((e) => e.name)).not.toContain('passwd');
    expect(byId.get(12)).toMatchObject({ ok: false, error: { code: 'usage' } });
    expect(byId.get(13)).toMatchObject({ ok: false, error: { code: 'not-found', message: expect.stringMatching(/not a drive this machine offers/) } });
    expect(byId.get(99)).toMatchObject({ ok: true, payload: { writer: true } });
  });

  it('closes a connection after too many malformed messages, and one sending an oversize line; others go on', async () => {
    const junk = Array.from({ length: 25 }, () => 'junk\n');
    const flood = await rawExchange(socket, junk, 25);
    expect(flood.closed).toBe(true);
    expect(flood.replies.filter((r) => r.type === 'response').length).toBeLessThanOrEqual(20);
    const big = await rawExchange(socket, [Buffer.alloc(17 * 1024 * 1024, 0x61)], 1);
    expect(big.closed).toBe(true);
    expect(big.replies.filter((r) => r.type === 'response')).toEqual([]);
    const c = await client(socket);
    expect((await c.request('status', {})).writer).toBe(true);
    c.close();
  });

  it('reads a message however it is cut, several in one piece, and a long one (8 MiB) whole', async () => {
    const status = (id: number, pad = '') => JSON.stringify({ type: 'request', id, channel: 'status', payload: pad ? { pad } : {} });
    const third = status(3, 'x'.repeat(8 * 1024 * 1024));
    const cut = `${status(1)}\n${status(2)}\n${third}\n`;
    // Pieces of 1 byte, then of 64 KiB: a line is made of many pieces, and a piece holds several lines.
    const pieces = [...cut.slice(0, 40)].concat(Array.from({ length: Math.ceil((cut.length - 40) / 65536) }, (_, i) => cut.slice(40 + i * 65536, 40 + (i + 1) * 65536)));
    const r = await rawExchange(socket, pieces, 3);
    expect(r.replies.filter((x) => x.type === 'response').map((x) => [x.id, x.ok])).toEqual([
      [1, true],
      [2, true],
      [3, true],
    ]);
  });

  it('serves many connections at once', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => rawExchange(socket, [request(i + 1, 'listDisks', {})])));
    for (const a of answers) expect(a.replies.find((r) => r.type === 'response')).toMatchObject({ ok: true, payload: [expect.objectContaining({ name: 'vol' })] });
  });

  it('refuses a second service on the same appliance, and one on a socket another service answers on', async () => {
    const second = runCli(['service', '-a', app, '--socket', join(tmp.dir, 'other.sock'), '--split-dir', split]);
    expect(second.status).toBe(1);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    expect(second.stderr).toMatch(/in use by pid \d+ .*chronodisk service/);
    const app2 = join(tmp.dir, 'app2');
    expect(runCli(['init', app2]).status).toBe(0);
    const sameSocket = runCli(['service', '-a', app2, '--socket', socket, '--split-dir', split]);
    expect(sameSocket.status).toBe(1);
    expect(sameSocket.stderr).toMatch(/another Chronodisk service already listens at/);
    writeFileSync(join(tmp.dir, 'plain-file'), 'x');
    const notSocket = runCli(['service', '-a', app2, '--socket', join(tmp.dir, 'plain-file'), '--split-dir', split]);
    expect(notSocket.stderr).toMatch(/exists and is not a socket/);
    expect(readFileSync(join(tmp.dir, 'plain-file'), 'utf8')).toBe('x');
  });

  it('after SIGKILL the stale socket is taken over; --group makes it 0660 for that group; SIGTERM stops cleanly and removes it', async () => {
    await service.stop('SIGKILL');
    expect(existsSync(socket)).toBe(true);
    const gid = Number(sh('getent', ['group', 'disk']).split(':')[2]);
    service = await startServiceProcess(['-a', app, '--socket', socket, '--split-dir', split, '--group', 'disk']);
    const st = statSync(socket);
    expect(st.mode & 0o777).toBe(0o660);
    expect(st.gid).toBe(gid);
    const c = await client(socket);
    expect((await c.request('listDisks', {}))[0]!.name).toBe('vol');
    c.close();
    expect(await service.stop('SIGTERM')).toBe(0);
    expect(service.lines.at(-1)).toMatchObject({ event: 'stopped', signal: 'SIGTERM' });
    expect(existsSync(socket)).toBe(false);
    const bad = runCli(['service', '-a', app, '--socket', socket, '--split-dir', split, '--group', 'no-such-group-here']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--group no-such-group-here is not a group/);
  });
});

describe('chronodisk service --help', () => {
  it('documents the socket and the group', () => {
    const r = runCli(['service', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--socket <path>/);
    expect(r.stdout).toMatch(/--group <group>/);
  });
});
