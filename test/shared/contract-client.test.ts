import { describe, expect, it } from 'vitest';
import { ContractClient, ServiceError, type ContractTransport } from '../../shared/contract-client.js';
import { parseEnvelope, parseRequest, requests } from '../../shared/contract.js';

/** A transport whose other end is this test, playing the service. */
function pair() {
  const sent: string[] = [];
  let receive: (text: string) => void = () => {};
  let closed: (reason: string) => void = () => {};
  const transport: ContractTransport = {
    send: (t) => void sent.push(t),
    onMessage: (r) => void (receive = r),
    onClose: (c) => void (closed = c),
    close: () => closed('closed'),
  };
  return { transport, sent, reply: (m: unknown) => receive(typeof m === 'string' ? m : JSON.stringify(m)), drop: (why: string) => closed(why) };
}

const sampleDisk = { id: 1, name: 'home', source: '/dev/loop0', size: 4096, mode: 'scan', blockSize: 65536, identity: {}, createdUs: 1 };

describe('ContractClient', () => {
  it('sends a validated request and resolves with the validated response', async () => {
    const p = pair();
    const client = new ContractClient(p.transport);
    const answer = client.request('listDisks', {});
    const sent = parseEnvelope(p.sent[0]!);
    expect(sent).toMatchObject({ type: 'request', channel: 'listDisks', payload: {} });
    p.reply({ type: 'response', id: (sent as { id: number }).id, ok: true, payload: [{ ...sampleDisk, points: 3, state: 'idle' }] });
    expect((await answer)[0]!.name).toBe('home');
  });

  it('refuses a request that does not fit its schema without sending it', async () => {
    const p = pair();
    const client = new ContractClient(p.transport);
    await expect(client.request('resolvePoint', { disk: 'a/b', at: 'now' })).rejects.toThrow(/bad resolvePoint request: disk: a disk name may not contain/);
    // @ts-expect-error confirm must be the literal true
    await expect(client.request('restoreDisk', { disk: 'home', at: 'now', confirm: false })).rejects.toThrow(/destructive/);
    expect(p.sent).toHaveLength(0);
  });

  it('rejects with the service error, and with a schema error for a response that does not fit', async () => {
    const p = pair();
    const client = new ContractClient(p.transport);
    const a = client.request('status', {});
    const b = client.request('listDisks', {});
    p.reply({ type: 'response', id: 1, ok: false, error: { code: 'not-found', message: 'no disk x' } });
    p.reply({ type: 'response', id: 2, ok: true, payload: [{ name: 'no fields' }] });
    await expect(a).rejects.toEqual(new ServiceError('not-found', 'no disk x'));
    await expect(b).rejects.toThrow(/bad listDisks response/);
  });

  it('delivers valid events to subscribers and drops malformed messages', () => {
    const p = pair();
    const client = new ContractClient(p.transport);
    const errors: string[] = [];
    client.onProtocolError = (e) => errors.push(e.message);
    const seen: number[] = [];
    const off = client.on('pointCommitted', (pt) => seen.push(pt.seq));
    p.reply({ type: 'event', channel: 'pointCommitted', payload: { seq: 7, disk: 'home', timeUs: 5, flags: ['scan'] } });
    p.reply({ type: 'event', channel: 'pointCommitted', payload: { seq: -1, disk: 'home', timeUs: 5, flags: [] } });
    p.reply({ type: 'event', channel: 'nope', payload: {} });
    p.reply('{not json');
    p.reply({ type: 'response', id: 99, ok: true, payload: {} });
    off();
    p.reply({ type: 'event', channel: 'pointCommitted', payload: { seq: 8, disk: 'home', timeUs: 6, flags: [] } });
    expect(seen).toEqual([7]);
    expect(errors).toHaveLength(4);
  });

  it('fails every waiting request when the transport closes, and later ones at once', async () => {
    const p = pair();
    const client = new ContractClient(p.transport);
    const a = client.request('listJobs', {});
    p.drop('service stopped');
    await expect(a).rejects.toThrow(/closed: service stopped/);
    await expect(client.request('listJobs', {})).rejects.toMatchObject({ code: 'io' });
  });
});

describe('the contract table', () => {
  it('gives every channel a request and a response schema', () => {
    for (const [name, c] of Object.entries(requests)) {
      expect(c.request, name).toBeDefined();
      expect(c.response, name).toBeDefined();
    }
    expect(() => parseRequest('listFiles', { disk: 'home:0', at: 'now', path: '/' })).toThrow(/DISK or DISK:N/);
    expect(parseRequest('listFiles', { disk: 'home:2', at: '-2h', path: '/etc' }).disk).toBe('home:2');
  });
});

describe('parseEnvelope', () => {
  it('names the field that is wrong', async () => {
    const { parseEnvelope: parse } = await import('../../shared/contract.js');
    expect(() => parse('{"type":"request","id":1,"channel":"status"}')).toThrow('bad envelope: payload: missing (send {} when there is nothing to say)');
    expect(() => parse('{"type":"request","id":-1,"channel":"status","payload":{}}')).toThrow(/bad envelope: id: /);
    expect(() => parse('{"type":"hello"}')).toThrow('bad envelope: type must be "request", "response" or "event", not "hello"');
    expect(() => parse('[1]')).toThrow('bad envelope: not a JSON object');
    expect(() => parse('{"type":"response","id":3,"ok":false,"error":{"code":"nope","message":"x"}}')).toThrow(/bad envelope: error.code: /);
    expect(parse('{"type":"event","channel":"disksChanged","payload":{}}')).toEqual({ type: 'event', channel: 'disksChanged', payload: {} });
  });
});
