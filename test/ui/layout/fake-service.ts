/**
 * LAYOUT WORK ONLY — not a test of anything. A small in-process stand-in for the service's
 * WebSocket (the real one is on branch wt-service) that serves dist/renderer and answers the
 * contract from made-up data, so the window can be looked at while the service is built.
 * The end-to-end tests (test/ui/*.e2e.test.ts) run against the real `chronodisk ui`.
 */
import { createServer } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { parseEnvelope, parseRequest, type Job, type Point, type RequestChannel } from '../../../shared/contract.js';
import { repoRoot } from '../../helpers/cli.js';

const now = Date.now() * 1000;
const points: Point[] = [];
for (let i = 0, t = now - 30 * 86400e6; i < 100_000; i++) {
  t += Math.floor((30 * 86400e6) / 100_000) * (i % 50 === 0 ? 3 : 1);
  if (t > now) break;
  points.push({ seq: 100 + i * 2, disk: 'home', timeUs: t, flags: [] });
}
const bookmarks = [{ disk: 'home', seq: points[60_000]!.seq, label: 'before upgrade', timeUs: points[60_000]!.timeUs }];
const entries = (at: number) => [
  { name: 'Documents', type: 'dir', size: 4096, mtimeUs: now - 86400e6, mode: 0o40755, uid: 1000, gid: 1000 },
  { name: 'Photos', type: 'dir', size: 4096, mtimeUs: now - 3 * 86400e6, mode: 0o40755, uid: 1000, gid: 1000 },
  { name: 'notes.txt', type: 'file', size: 1234 + (at % 1000), mtimeUs: now - 3600e6, mode: 0o100644, uid: 1000, gid: 1000 },
  { name: 'thesis-final-v3.pdf', type: 'file', size: 3_400_000, mtimeUs: now - 7200e6, mode: 0o100644, uid: 1000, gid: 1000 },
  { name: 'latest', type: 'symlink', size: 9, mtimeUs: now - 7200e6, mode: 0o120777, uid: 1000, gid: 1000, target: 'notes.txt' },
];
const job: Job = { id: 'j1', kind: 'restore-disk', title: 'Restore home to 10:42 onto /dev/sdb', disk: 'home', phase: 'write', bytesDone: 3 * 2 ** 30, bytesTotal: 8 * 2 ** 30, bytesPerSecond: 180 * 2 ** 20, etaSeconds: 28, startedUs: now - 20e6 };

function answer(channel: RequestChannel, p: Record<string, unknown>): unknown {
  switch (channel) {
    case 'status':
      return { appliance: '/media/backup/appliance', version: '0.1.0', writer: true, encrypted: false, space: { totalBytes: 2e12, freeBytes: 1.2e12, applianceBytes: 0.7e12 } };
    case 'listDisks':
      return [
        { id: 1, name: 'home', source: '/dev/nvme0n1p3', size: 512e9, mode: 'track', blockSize: 65536, identity: {}, createdUs: points[0]!.timeUs, points: points.length, firstUs: points[0]!.timeUs, latestSeq: points.at(-1)!.seq, latestUs: points.at(-1)!.timeUs, state: 'tracking' },
        { id: 2, name: 'vm-win11', source: '/var/lib/vm/win11.img', size: 128e9, mode: 'split', blockSize: 65536, identity: {}, createdUs: now - 86400e6, points: 12, firstUs: now - 86400e6, latestSeq: 99, latestUs: now - 600e6, state: 'idle' },
      ];
    case 'listDrives':
      return [
        { device: '/dev/vda', description: 'Virtio disk', size: 256e9, isSystem: true, isAppliance: false, isRemovable: false, mountpoints: ['/'], refusal: 'this is the system disk (/ is mounted from it)' },
        { device: '/dev/sdb', description: 'SanDisk Extreme', size: 1e12, isSystem: false, isAppliance: true, isRemovable: true, mountpoints: ['/media/backup'], refusal: "this is the appliance's own disk" },
        { device: '/dev/sdc', description: 'Samsung T7', size: 500e9, isSystem: false, isAppliance: false, isRemovable: true, mountpoints: [] },
      ];
    case 'timeline': {
      const inRange = points.filter((x) => (p.fromUs === undefined || x.timeUs >= (p.fromUs as number)) && (p.toUs === undefined || x.timeUs <= (p.toUs as number)));
      return { points: inRange.slice(-((p.limit as number) ?? 100_000)), bookmarks, total: inRange.length };
    }
    case 'activity': {
      const n = p.buckets as number;
      const from = p.fromUs as number;
      const w = ((p.toUs as number) - from) / n;
      return Array.from({ length: n }, (_, i) => ({ startUs: Math.floor(from + i * w), bytes: Math.floor((Math.sin(i / 3) + 1.2) * 1e8 * (i % 7 === 0 ? 4 : 1)), writes: 10 }));
    }
    case 'listVolumes':
      return [
        { address: 'home:1', partition: 1, fsType: 'vfat', label: 'EFI', start: 1 << 20, size: 512 << 20, browsable: true },
        { address: 'home:2', partition: 2, fsType: 'ext4', label: 'home', start: 513 << 20, size: 400e9, browsable: true },
      ];
    case 'listFiles': {
      const at = p.at === 'now' ? points.at(-1)! : (points.find((x) => x.seq === Number(p.at)) ?? points.at(-1)!);
      return { point: at, entries: entries(at.seq) };
    }
    case 'fileVersions':
      return [0.2, 0.5, 0.9].map((f, i) => ({ seq: points[Math.floor(points.length * f)]!.seq, timeUs: points[Math.floor(points.length * f)]!.timeUs, change: i === 0 ? 'added' : 'changed', size: 1000 + i * 300, mtimeUs: now }));
    case 'listRestoreDestinations':
      return [{ id: 'folder-1', path: '/home/me/Restored', label: 'Restored', kind: 'folder' }, { id: 'original', path: '/home', label: 'Original folder (home is mounted at /home)', kind: 'original' }];
    case 'listRestoreTargets':
      return [
        { device: '/dev/nvme0n1p3', description: 'home itself (roll back only what changed)', size: 512e9, inPlace: true, usable: false, problems: ['/dev/nvme0n1p3 is mounted at /home: unmount it first', 'it is on the system disk'] },
        { device: '/dev/sdc', description: 'Samsung T7', size: 500e9, inPlace: false, usable: false, problems: ['it is 500 GB, smaller than home (512 GB)'] },
        { device: '/dev/sdd', description: 'WD Elements', size: 2e12, inPlace: false, usable: true, problems: [] },
      ];
    case 'getSettings':
    case 'setSettings':
      return { scanIntervalSec: 300, rateLimit: 50 << 20, retention: { keepAllUs: 86400e6, hourlyUs: 30 * 86400e6, dailyUs: 365 * 86400e6, weeklyUs: null }, restoreFolders: ['/home/me/Restored'] };
    case 'listJobs':
      return [job];
    case 'restoreDisk':
    case 'restoreFiles':
      return job;
    default:
      return {};
  }
}

const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

export async function startFakeService(): Promise<{ url: string; close(): Promise<void> }> {
  const root = join(repoRoot, 'dist/renderer');
  const http = createServer((req, res) => {
    const file = join(root, req.url === '/' || !req.url ? 'index.html' : req.url.split('?')[0]!);
    if (!file.startsWith(root) || !existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  const wss = new WebSocketServer({ server: http, path: '/ws', handleProtocols: (p) => (p.has('chronodisk.layout') ? 'chronodisk.layout' : false) });
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const m = parseEnvelope(String(data));
      if (m.type !== 'request') return;
      const payload = parseRequest(m.channel as RequestChannel, m.payload) as Record<string, unknown>;
      ws.send(JSON.stringify({ type: 'response', id: m.id, ok: true, payload: answer(m.channel as RequestChannel, payload) }));
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/#token=layout`,
    close: () => new Promise((r) => { wss.close(); http.close(() => r()); }),
  };
}
