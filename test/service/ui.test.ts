import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ContractClient } from '../../shared/contract-client.js';
import { WebSocketTransport } from '../../electron/service/ws-transport.js';
import { sh, tempDir } from '../devices/loop-device.js';
import { runCli } from '../helpers/cli.js';
import { client, nextEvent, startServiceProcess, type ServiceProcess } from './service-fixture.js';

type Opened = { ws: WebSocket } | { status: number; body: string } | { error: string };

/** Opens a WebSocket as a browser or a script would; resolves with it, or with how the server refused. */
function openWs(port: number, protocols?: string[], headers: Record<string, string> = {}): Promise<Opened> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, protocols, { headers });
    ws.on('open', () => resolve({ ws }));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', (e) => resolve({ error: e.message }));
  });
}

function closedWith(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
}

/** A raw HTTP/1.1 request (the path sent exactly as given, Host as given). */
function rawHttp(port: number, head: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write(`${head}\r\nConnection: close\r\n\r\n`));
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
  });
}

describe('chronodisk ui: the browser UI on loopback behind a token', () => {
  const tmp = tempDir('chronodisk-service-ui-');
  const app = join(tmp.dir, 'app');
  const rendererDir = join(tmp.dir, 'renderer');
  const socket = join(tmp.dir, 'ui.sock');
  let ui: ServiceProcess;
  let port = 0;
  let token = '';
  let url = '';

  beforeAll(async () => {
    mkdirSync(join(rendererDir, 'assets'), { recursive: true });
    writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Chronodisk</title><script src="./assets/app.js"></script>\n');
    writeFileSync(join(rendererDir, 'assets/app.js'), 'console.log("chronodisk");\n');
    sh('truncate', ['-s', '32M', join(tmp.dir, 'vol.img')]);
    sh('mkfs.ext4', ['-q', '-F', join(tmp.dir, 'vol.img')]);
    expect(runCli(['init', app]).status).toBe(0);
    expect(runCli(['protect', join(tmp.dir, 'vol.img'), '-a', app, '--name', 'vol']).status).toBe(0);
    ui = await startServiceProcess(['-a', app, '--socket', socket, '--split-dir', join(tmp.dir, 'split'), '--renderer-dir', rendererDir], 'ui');
    const l = ui.lines.find((x) => typeof x.url === 'string')!;
    ({ port, token, url } = l as { port: number; token: string; url: string });
  }, 120_000);

  afterAll(async () => {
    await ui?.stop();
    tmp.remove();
  });

  it('prints the URL with a random token (--json), and refuses a non-loopback --host with one line', () => {
    expect(url).toBe(`http://127.0.0.1:${port}/#token=${token}`);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const r = runCli(['ui', '-a', app, '--host', '0.0.0.0']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--host 0\.0\.0\.0 is not a loopback address/);
  });

  it('serves the built renderer, and nothing outside it; refuses a foreign Host (DNS rebinding)', async () => {
    const index = await fetch(`http://127.0.0.1:${port}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(await index.text()).toMatch(/<title>Chronodisk<\/title>/);
    const js = await fetch(`http://localhost:${port}/assets/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    for (const path of ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/assets/../../app/header.json', '/missing.js']) {
      const res = await rawHttp(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}`);
      expect(res, path).toMatch(/^HTTP\/1\.1 404/);
      expect(res).not.toMatch(/root:|chronodisk-appliance/);
    }
    expect(await rawHttp(port, `POST / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: 0`)).toMatch(/^HTTP\/1\.1 405/);
    expect(await rawHttp(port, `GET / HTTP/1.1\r\nHost: evil.example:${port}`)).toMatch(/^HTTP\/1\.1 403/);
  });

  it('refuses a WebSocket with a wrong or missing token, a foreign Origin or a foreign Host', async () => {
    expect(await openWs(port, ['chronodisk.wrong-token'])).toMatchObject({ status: 401, body: expect.stringMatching(/wrong token/) });
    expect(await openWs(port, [`chronodisk.${token}`], { Origin: 'http://evil.example' })).toMatchObject({ status: 403, body: expect.stringMatching(/Origin/) });
    expect(await openWs(port, [`chronodisk.${token}`], { Origin: `https://127.0.0.1:${port}` })).toMatchObject({ status: 403 });
    expect(await openWs(port, [`chronodisk.${token}`], { Host: `evil.example:${port}` })).toMatchObject({ status: 403, body: expect.stringMatching(/Host/) });
    // No subprotocol: the first message must carry the token.
    const wrong = await openWs(port);
    if (!('ws' in wrong)) throw new Error(JSON.stringify(wrong));
    const wrongClosed = closedWith(wrong.ws);
    wrong.ws.send(JSON.stringify({ token: 'guess' }));
    expect(await wrongClosed).toEqual({ code: 4401, reason: 'wrong token' });
    const asRequest = await openWs(port);
    if (!('ws' in asRequest)) throw new Error(JSON.stringify(asRequest));
    const requestClosed = closedWith(asRequest.ws);
    asRequest.ws.send(JSON.stringify({ type: 'request', id: 1, channel: 'status', payload: {} }));
    expect((await requestClosed).code).toBe(4401);
  });

  it('carries the contract with the token as subprotocol or first message; events arrive; hostile frames get errors or a close, and it keeps serving', async () => {
    const a = await openWs(port, [`chronodisk.${token}`], { Origin: `http://127.0.0.1:${port}` });
    if (!('ws' in a)) throw new Error(JSON.stringify(a));
    expect(a.ws.protocol).toBe(`chronodisk.${token}`);
    const ca = new ContractClient(new WebSocketTransport(a.ws));
    expect(await ca.request('status', {})).toMatchObject({ appliance: app, writer: true });
    const point = nextEvent(ca, 'pointCommitted', (p) => p.disk === 'vol');
    await ca.request('captureNow', { disk: 'vol' });
    expect((await point).flags).toContain('scan');

    const b = await openWs(port);
    if (!('ws' in b)) throw new Error(JSON.stringify(b));
    b.ws.send(JSON.stringify({ token }));
    const cb = new ContractClient(new WebSocketTransport(b.ws));
    expect((await cb.request('listDisks', {})).map((d) => d.name)).toEqual(['vol']);

    // Raw frames on the authenticated socket: one-line errors, then an oversize frame closes it.
    const answers: Array<Record<string, unknown>> = [];
    b.ws.on('message', (d: Buffer) => answers.push(JSON.parse(d.toString()) as Record<string, unknown>));
    b.ws.send('not json');
    b.ws.send(Buffer.from([0xff, 0x00, 0x13]), { binary: true });
    b.ws.send(JSON.stringify({ type: 'request', id: 77, channel: 'nope', payload: {} }));
    await new Promise((r) => setTimeout(r, 300));
    const errors = answers.filter((m) => m.type === 'response' && m.ok === false);
    expect(errors.map((m) => (m.error as { message: string }).message)).toEqual(['message is not JSON', 'message is not JSON', 'unknown request channel "nope"']);
    const bClosed = closedWith(b.ws);
    b.ws.send('x'.repeat(17 * 1024 * 1024));
    expect((await bClosed).code).toBe(1009);

    expect((await ca.request('listJobs', {})).some((j) => j.kind === 'scan')).toBe(true);
    // The same service answers on the unix socket too.
    const c = await client(socket);
    expect((await c.request('status', {})).appliance).toBe(app);
    c.close();
    ca.close();
  });
});
