/**
 * The contract between the privileged service and its clients (the Electron shell, the
 * browser UI over WebSocket, the CLI). One table: each request channel names its request
 * and response schema; each event channel its payload. Every boundary validates with
 * these schemas (zod: typed inference from one definition, and the most widely known).
 */
import { z } from 'zod';
import { errorCodes } from './errors.js';

const seq = z.number().int().nonnegative();
const micros = z.number().int().nonnegative();
const bytes = z.number().int().nonnegative();
const diskName = z.string().min(1).max(128).regex(/^[^@:/]+$/, 'a disk name may not contain @, : or /');
const pointText = z.string().min(1).max(256);

export const captureMode = z.enum(['scan', 'track', 'split']);

export const disk = z.object({
  id: z.number().int(),
  name: diskName,
  source: z.string(),
  size: bytes,
  mode: captureMode,
  blockSize: bytes,
  identity: z.record(z.string(), z.string()),
  createdUs: micros,
});

export const point = z.object({
  seq,
  disk: diskName,
  timeUs: micros,
  flags: z.array(z.enum(['crash-consistent', 'scan', 'restore', 'final', 'thinned'])),
  label: z.string().optional(),
});

export const bookmark = z.object({ disk: diskName, seq, label: z.string().min(1), timeUs: micros });

export const activityBucket = z.object({ startUs: micros, bytes, writes: z.number().int() });

export const fileEntry = z.object({
  name: z.string(),
  type: z.enum(['file', 'dir', 'symlink', 'other']),
  size: bytes,
  mtimeUs: z.number().int(),
  mode: z.number().int(),
  uid: z.number().int(),
  gid: z.number().int(),
  target: z.string().optional(),
});

export const drive = z.object({
  device: z.string(),
  description: z.string(),
  size: bytes,
  isSystem: z.boolean(),
  isAppliance: z.boolean(),
  isRemovable: z.boolean(),
  mountpoints: z.array(z.string()),
});

export const jobPhase = z.enum(['queued', 'prepare', 'read', 'write', 'verify', 'commit', 'done', 'failed', 'cancelled']);

export const job = z.object({
  id: z.string(),
  kind: z.enum(['capture', 'restore-disk', 'restore-files', 'export', 'thin', 'check']),
  disk: diskName.optional(),
  phase: jobPhase,
  bytesDone: bytes,
  bytesTotal: bytes,
  bytesPerSecond: z.number().nonnegative(),
  etaSeconds: z.number().nonnegative().optional(),
  error: z.object({ code: z.enum(errorCodes), message: z.string() }).optional(),
});

const empty = z.object({});

/** Requests: channel → request and response schemas. */
export const requests = {
  status: {
    request: empty,
    response: z.object({ appliance: z.string(), version: z.string(), writer: z.boolean(), paused: z.string().optional() }),
  },
  listDisks: { request: empty, response: z.array(disk) },
  listDrives: { request: empty, response: z.array(drive) },
  timeline: {
    request: z.object({ disk: diskName, fromUs: micros.optional(), toUs: micros.optional(), limit: z.number().int().positive().max(100_000).optional() }),
    response: z.object({ points: z.array(point), bookmarks: z.array(bookmark) }),
  },
  activity: {
    request: z.object({ disk: diskName, fromUs: micros, toUs: micros, buckets: z.number().int().positive().max(10_000) }),
    response: z.array(activityBucket),
  },
  resolvePoint: { request: z.object({ disk: diskName, at: pointText }), response: point },
  addBookmark: { request: z.object({ disk: diskName, at: pointText, label: z.string().min(1).max(200) }), response: bookmark },
  removeBookmark: { request: z.object({ disk: diskName, label: z.string().min(1) }), response: empty },
  listFiles: {
    request: z.object({ disk: z.string().min(1), at: pointText, path: z.string() }),
    response: z.array(fileEntry),
  },
  restoreFiles: {
    request: z.object({ disk: z.string().min(1), at: pointText, paths: z.array(z.string()).min(1), to: z.string(), overwrite: z.boolean() }),
    response: job,
  },
  restoreDisk: {
    request: z.object({ disk: diskName, at: pointText, to: z.string().optional(), confirm: z.literal(true) }),
    response: job,
  },
  listJobs: { request: empty, response: z.array(job) },
  cancelJob: { request: z.object({ id: z.string() }), response: empty },
} as const;

/** Events the service pushes. */
export const events = {
  jobProgress: job,
  pointCommitted: point,
  captureStatus: z.object({ disk: diskName, state: z.enum(['idle', 'scanning', 'tracking', 'splitting', 'paused', 'error']), message: z.string().optional() }),
} as const;

export type RequestChannel = keyof typeof requests;
export type EventChannel = keyof typeof events;
export type RequestOf<C extends RequestChannel> = z.infer<(typeof requests)[C]['request']>;
export type ResponseOf<C extends RequestChannel> = z.infer<(typeof requests)[C]['response']>;
export type EventOf<C extends EventChannel> = z.infer<(typeof events)[C]>;
export type Disk = z.infer<typeof disk>;
export type Point = z.infer<typeof point>;
export type Bookmark = z.infer<typeof bookmark>;
export type FileEntry = z.infer<typeof fileEntry>;
export type Drive = z.infer<typeof drive>;
export type Job = z.infer<typeof job>;

/** The envelope on the wire (socket, WebSocket, IPC). */
export const envelope = z.discriminatedUnion('type', [
  z.object({ type: z.literal('request'), id: z.number().int(), channel: z.string(), payload: z.unknown() }),
  z.object({ type: z.literal('response'), id: z.number().int(), ok: z.literal(true), payload: z.unknown() }),
  z.object({ type: z.literal('response'), id: z.number().int(), ok: z.literal(false), error: z.object({ code: z.enum(errorCodes), message: z.string() }) }),
  z.object({ type: z.literal('event'), channel: z.string(), payload: z.unknown() }),
]);
export type Envelope = z.infer<typeof envelope>;

export function isRequestChannel(name: string): name is RequestChannel {
  return Object.hasOwn(requests, name);
}

/** Validates a request payload for a channel; throws a one-line message when it does not fit. */
export function parseRequest<C extends RequestChannel>(channel: C, payload: unknown): RequestOf<C> {
  const r = requests[channel].request.safeParse(payload);
  if (!r.success) throw new Error(`bad ${channel} request: ${summarizeIssues(r.error)}`);
  return r.data as RequestOf<C>;
}

export function parseResponse<C extends RequestChannel>(channel: C, payload: unknown): ResponseOf<C> {
  const r = requests[channel].response.safeParse(payload);
  if (!r.success) throw new Error(`bad ${channel} response: ${summarizeIssues(r.error)}`);
  return r.data as ResponseOf<C>;
}

export function parseEvent<C extends EventChannel>(channel: C, payload: unknown): EventOf<C> {
  const r = events[channel].safeParse(payload);
  if (!r.success) throw new Error(`bad ${channel} event: ${summarizeIssues(r.error)}`);
  return r.data as EventOf<C>;
}

function summarizeIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}
