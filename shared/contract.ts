/**
 * The contract between the privileged service and its clients (the Electron shell and its
 * window, the browser UI over WebSocket, the CLI). One table: each request channel names
 * its request and response schema; each event channel its payload. Every boundary
 * validates with these schemas (zod: typed inference from one definition). GitHub
 * Desktop's ipc-shared is the model: add a channel here and every side sees its types.
 *
 * Paths: a client never names a raw device or file the service did not offer it. Devices
 * come from listDrives / listRestoreTargets, file-restore destinations from
 * listRestoreDestinations (by id); the service checks every one again when it acts.
 */
import { z } from 'zod';
import { errorCodes, remedies } from './errors.js';

const seq = z.number().int().nonnegative();
const micros = z.number().int().nonnegative();
const bytes = z.number().int().nonnegative();
export const diskName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^@:/]+$/, 'a disk name may not contain @, : or /');
/** DISK (its only filesystem, or the whole disk) or DISK:N (partition N, from 1). */
const diskAddress = z
  .string()
  .min(1)
  .max(140)
  .regex(/^[^@:/]+(:[1-9][0-9]*)?$/, 'a disk address is DISK or DISK:N (partition N)');
/** A point in the point syntax of shared/point.ts: 1234, an ISO time, -2h, @label, now. */
const pointText = z.string().min(1).max(256);
/** A path inside a filesystem of a time image: absolute, '/' separated. */
const innerPath = z.string().min(1).max(4096).startsWith('/');

export const captureMode = z.enum(['scan', 'track', 'split']);
export const pointFlag = z.enum(['crash-consistent', 'scan', 'restore', 'final', 'thinned']);

export const disk = z.object({
  id: z.number().int(),
  name: diskName,
  source: z.string(),
  size: bytes,
  mode: captureMode,
  blockSize: bytes,
  /** What the source was when protected (serial, model, WWN, backing file, partition, …), as the engine probed it: a JSON object. */
  identity: z.record(z.string(), z.json()),
  createdUs: micros,
});

export const captureState = z.enum(['idle', 'scanning', 'tracking', 'splitting', 'paused', 'error']);

/** A protected disk as the drive list shows it: its record, its history in brief, its capture. */
export const diskSummary = disk.extend({
  points: z.number().int().nonnegative(),
  firstUs: micros.optional(),
  latestSeq: seq.optional(),
  latestUs: micros.optional(),
  state: captureState,
  message: z.string().optional(),
});

export const point = z.object({
  seq,
  disk: diskName,
  timeUs: micros,
  flags: z.array(pointFlag),
  label: z.string().optional(),
  /** Bytes the point's batch wrote. */
  bytes: bytes.optional(),
});

export const bookmark = z.object({ disk: diskName, seq, label: z.string().min(1), timeUs: micros });

export const activityBucket = z.object({ startUs: micros, bytes, writes: z.number().int().nonnegative() });

/** A filesystem found on a time image: the whole disk (partition 0) or partition N. */
export const volume = z.object({
  /** The disk address to browse it with: DISK or DISK:N. */
  address: diskAddress,
  partition: z.number().int().nonnegative(),
  /** ext4, vfat, exfat, xfs, … or 'unknown' when nothing we read is there. */
  fsType: z.string(),
  label: z.string().optional(),
  start: bytes,
  size: bytes,
  /** False when the service cannot list files on it (unknown or unsupported filesystem). */
  browsable: z.boolean(),
});

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

/** One version of a file: the first point at which it had this content. */
export const fileVersion = z.object({
  seq,
  timeUs: micros,
  change: z.enum(['added', 'changed', 'removed']),
  size: bytes,
  mtimeUs: z.number().int(),
});

/** A partition of a drive, offered for protection on its own. */
export const drivePartition = z.object({
  device: z.string(),
  number: z.number().int().positive(),
  start: bytes,
  size: bytes,
  mountpoints: z.array(z.string()),
  protectedAs: diskName.optional(),
  refusal: z.string().optional(),
});

export const drive = z.object({
  device: z.string(),
  description: z.string(),
  size: bytes,
  isSystem: z.boolean(),
  isAppliance: z.boolean(),
  isRemovable: z.boolean(),
  mountpoints: z.array(z.string()),
  /** The disk name when this device is already protected. */
  protectedAs: diskName.optional(),
  /** Why it cannot be protected (one line), when it cannot. */
  refusal: z.string().optional(),
  /** Its partitions, each of which can be protected instead of the whole drive. */
  partitions: z.array(drivePartition).optional(),
});

/** A device a disk can be restored onto, with every rule that refuses it (balenaEtcher's list). */
export const restoreTarget = z.object({
  device: z.string(),
  description: z.string(),
  size: bytes,
  /** The protected disk itself: a rollback of only what changed. */
  inPlace: z.boolean(),
  usable: z.boolean(),
  problems: z.array(z.string()),
});

/** Where restored files may go: offered by the service, chosen by id. */
export const restoreDestination = z.object({
  id: z.string().min(1).max(64),
  path: z.string(),
  label: z.string(),
  /** 'original': the folder the files came from, on the live, mounted filesystem. */
  kind: z.enum(['folder', 'original']),
});

export const retention = z.object({
  /** Keep every point this long (µs). */
  keepAllUs: micros,
  /** Then one per hour until this age (µs). */
  hourlyUs: micros,
  /** Then one per day until this age (µs). */
  dailyUs: micros,
  /** Then one per week until this age (µs); null: forever. */
  weeklyUs: micros.nullable(),
});

export const settings = z.object({
  /** Seconds between scan passes of scan-mode disks. */
  scanIntervalSec: z.number().int().positive().max(7 * 86400),
  /** Scan reads at most this many bytes per second; 0: no limit. */
  rateLimit: bytes,
  retention,
  /** Folders restored files may be written to (each an existing directory). */
  restoreFolders: z.array(z.string().min(1).max(4096)).max(32),
});

export const jobKind = z.enum(['restore-disk', 'restore-files', 'scan', 'thin', 'check', 'rebuild-index']);
/**
 * 'interrupted': a disk restore that a crash, a stop or a cancel left unfinished (its journal
 * is in the appliance and its target partly written); resumeJob finishes it.
 */
export const jobPhase = z.enum(['queued', 'prepare', 'read', 'write', 'verify', 'commit', 'done', 'failed', 'cancelled', 'interrupted']);
export const errorInfo = z.object({ code: z.enum(errorCodes), message: z.string(), remedy: z.enum(remedies).optional() });

/** What a scan job made, once done: for programs (the CLI's capture --json); `result` says it for people. */
export const scanOutcome = z.object({
  point,
  bytesRead: bytes,
  /** Logical bytes of the blocks that changed. */
  bytesChanged: bytes,
  /** Bytes the pass added to the appliance (after compression). */
  bytesStored: bytes,
  seconds: z.number().nonnegative(),
  /** The filesystem was frozen at the end of the pass: the point is crash-consistent. */
  frozen: z.boolean(),
});

/** What a disk restore job did, once done (the CLI's restore --json); `result` says it for people. */
export const restoreOutcome = z.object({
  kind: z.enum(['rollback', 'copy']),
  disk: diskName,
  /** The point restored. */
  seq,
  target: z.string(),
  bytesWritten: bytes,
  /** Bytes the restore covers (the changed extents, or the whole image). */
  bytesPlanned: bytes,
  bytesVerified: bytes,
  verified: z.boolean(),
  seconds: z.number().nonnegative(),
  /** It finished a restore an earlier run left unfinished. */
  resumed: z.boolean(),
  /** Rollback: the point flagged as a restore (absent: the disk already equalled the point), and the bookmark of the state before it. */
  restoreSeq: seq.optional(),
  beforeRestore: z.object({ seq, label: z.string() }).optional(),
  /** Copy: sha256 of the whole target as read back. */
  sha256: z.string().optional(),
  /** Seconds per phase. */
  phases: z.object({ 'catch-up': z.number(), write: z.number(), verify: z.number(), commit: z.number() }).partial(),
});

/** What a thinning job did, once done (the CLI's prune --json). */
export const thinOutcome = z.object({
  removedPoints: z.number().int().nonnegative(),
  /** Logical bytes of overwritten data the removed points held. */
  bytesFreed: bytes,
  bytesRewritten: bytes,
  segmentsBefore: z.number().int().nonnegative(),
  segmentsAfter: z.number().int().nonnegative(),
  seconds: z.number().nonnegative(),
  /** Part of the plan did not go (the free room ran out, or a capture batch was open): run it again later. */
  unfinished: z.boolean(),
});

/** What an index rebuild found (the CLI's rebuild-index --json). */
export const rebuildOutcome = z.object({
  commits: z.number().int().nonnegative(),
  writes: z.number().int().nonnegative(),
  /** Damaged places the rebuild skipped: verify the appliance. */
  problems: z.array(z.object({ segment: z.number().int(), at: bytes, reason: z.string() })),
  seconds: z.number().nonnegative(),
});

/** Long work, with progress: speed and ETA come from the service, which sees the bytes move. */
export const job = z.object({
  id: z.string(),
  kind: jobKind,
  /** One line for the jobs list: "Restore home to 10:42 onto /dev/sdb". */
  title: z.string(),
  disk: diskName.optional(),
  phase: jobPhase,
  bytesDone: bytes,
  bytesTotal: bytes,
  bytesPerSecond: z.number().nonnegative(),
  etaSeconds: z.number().nonnegative().optional(),
  startedUs: micros,
  finishedUs: micros.optional(),
  /** One line when done: "Rolled back 12 MiB in 3 extents; verified". */
  result: z.string().optional(),
  error: errorInfo.optional(),
  scan: scanOutcome.optional(),
  restore: restoreOutcome.optional(),
  thin: thinOutcome.optional(),
  rebuild: rebuildOutcome.optional(),
});

export const status = z.object({
  appliance: z.string(),
  version: z.string(),
  /** Whether this service holds the appliance's writer lock (capture runs). */
  writer: z.boolean(),
  encrypted: z.boolean(),
  /** Set while capture is paused: why ("paused by you", "appliance full"). */
  paused: z.string().optional(),
  space: z.object({ totalBytes: bytes, freeBytes: bytes, applianceBytes: bytes }),
});

/**
 * Whether a client reaches the service. Sent by the desktop app's main process (not by the
 * service), once when the window loads and on every change, so the window can say "not
 * connected" and offer to start the service.
 */
export const serviceConnection = z.object({
  state: z.enum(['connecting', 'connected', 'disconnected']),
  /** The socket the app connects to. */
  socket: z.string(),
  /** While not connected: why, in one line ("no Chronodisk service listens at …"). */
  reason: z.string().optional(),
});

/** How the desktop app started the service. */
export const serviceStart = z.object({
  how: z.enum(['systemd', 'pkexec']),
  /** One line: "Started chronodisk.service" */
  message: z.string(),
});

const empty = z.object({});
const confirm = z.literal(true, { message: 'this action is destructive: send confirm: true once the person has confirmed it' });

/** Requests: channel → request and response schemas. */
export const requests = {
  status: { request: empty, response: status },
  listDisks: { request: empty, response: z.array(diskSummary) },
  listDrives: { request: empty, response: z.array(drive) },
  protectDisk: {
    /** `name` absent: the device's base name; `blockSize` absent: 64 KiB (the CLI's --name and --block-size). */
    request: z.object({ device: z.string().min(1), name: diskName.optional(), mode: captureMode, blockSize: bytes.optional() }),
    response: disk,
  },
  unprotectDisk: {
    request: z.object({ disk: diskName, deleteHistory: z.boolean(), confirm }),
    response: empty,
  },
  timeline: {
    request: z.object({ disk: diskName, fromUs: micros.optional(), toUs: micros.optional(), limit: z.number().int().positive().max(100_000).optional() }),
    /** The newest `limit` points of the range (oldest first), every bookmark, and how many points the range holds. */
    response: z.object({ points: z.array(point), bookmarks: z.array(bookmark), total: z.number().int().nonnegative() }),
  },
  activity: {
    request: z.object({ disk: diskName, fromUs: micros, toUs: micros, buckets: z.number().int().positive().max(10_000) }),
    response: z.array(activityBucket),
  },
  resolvePoint: { request: z.object({ disk: diskName, at: pointText }), response: point },
  addBookmark: { request: z.object({ disk: diskName, at: pointText, label: z.string().min(1).max(200) }), response: bookmark },
  removeBookmark: { request: z.object({ disk: diskName, label: z.string().min(1).max(200) }), response: empty },
  listVolumes: { request: z.object({ disk: diskName, at: pointText }), response: z.array(volume) },
  listFiles: {
    request: z.object({ disk: diskAddress, at: pointText, path: innerPath }),
    response: z.object({ point, entries: z.array(fileEntry) }),
  },
  fileVersions: {
    request: z.object({ disk: diskAddress, path: innerPath, limit: z.number().int().positive().max(10_000).optional() }),
    response: z.array(fileVersion),
  },
  listRestoreDestinations: { request: z.object({ disk: diskAddress }), response: z.array(restoreDestination) },
  restoreFiles: {
    request: z.object({ disk: diskAddress, at: pointText, paths: z.array(innerPath).min(1).max(10_000), destination: z.string().min(1), overwrite: z.boolean() }),
    response: job,
  },
  listRestoreTargets: { request: z.object({ disk: diskName }), response: z.array(restoreTarget) },
  restoreDisk: {
    /** `to` absent: roll the protected disk back in place (only what changed). */
    request: z.object({ disk: diskName, at: pointText, to: z.string().min(1).optional(), confirm }),
    response: job,
  },
  /** A scan pass now, as a job (kind 'scan'); `freeze` false: do not freeze a mounted filesystem at its end. */
  captureNow: { request: z.object({ disk: diskName, label: z.string().min(1).max(200).optional(), freeze: z.boolean().optional() }), response: job },
  pauseCapture: { request: empty, response: empty },
  resumeCapture: { request: empty, response: empty },
  /**
   * A disk's own retention (the tiers given; the others stay) and the appliance's
   * free-space floor (`chronodisk retention DISK --daily 1y --min-free 20G`); answers with
   * both as they now are. Checked whole before anything is stored.
   */
  setDiskRetention: {
    request: z.object({ disk: diskName, retention: retention.partial().optional(), minFreeBytes: bytes.optional() }),
    response: z.object({ disk: diskName, retention, minFreeBytes: bytes.optional() }),
  },
  getSettings: { request: empty, response: settings },
  setSettings: { request: settings.partial(), response: settings },
  listJobs: { request: empty, response: z.array(job) },
  cancelJob: { request: z.object({ id: z.string().min(1) }), response: empty },
  /** Finishes an interrupted disk restore (a job in phase 'interrupted'): the same point onto the same target, as a new job. */
  resumeJob: { request: z.object({ id: z.string().min(1), confirm }), response: job },
  /**
   * Verifies the appliance as a job (kind 'check'): its structure, and with readData every
   * record's checksum. Damage fails the job with a message naming each damaged place.
   */
  checkAppliance: { request: z.object({ readData: z.boolean() }), response: job },
  /**
   * Builds the index again from the segments and catalog (kind 'rebuild-index'), between
   * capture steps: the remedy for an index that disagrees with the segments.
   */
  rebuildIndex: { request: empty, response: job },
  /**
   * Thins history by each disk's retention policy (kind 'thin'), exactly as a preview
   * showed it: the plan made at `nowUs` from the points up to `throughSeq` (later ones stay)
   * must have `digest` (the sha256 of what it removes, as SERVICE.md spells it), else the
   * job fails as refused and nothing goes.
   */
  thinHistory: {
    request: z.object({ nowUs: micros, throughSeq: seq, digest: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in hex'), confirm }),
    response: job,
  },
  /** Forgets an interrupted disk restore (its journal): the target keeps what was written so far. */
  discardJob: { request: z.object({ id: z.string().min(1), confirm }), response: empty },
  /**
   * Answered by the desktop app's main process, not by the service: start the service
   * (systemd through polkit, or pkexec) when the window cannot reach it. A service asked
   * this directly answers 'usage'.
   */
  startService: { request: empty, response: serviceStart },
} as const;

/** Events the service pushes to every connected client. */
export const events = {
  jobProgress: job,
  pointCommitted: point,
  captureStatus: z.object({ disk: diskName, state: captureState, message: z.string().optional() }),
  /** Disks were protected, unprotected or renamed, or their history thinned: list them again. */
  disksChanged: empty,
  /** Bookmarks of a disk changed: fetch its timeline again. */
  bookmarksChanged: z.object({ disk: diskName }),
  /** From the desktop app's main process, not the service: see serviceConnection. */
  serviceConnection,
} as const;

export type RequestChannel = keyof typeof requests;
export type EventChannel = keyof typeof events;
export type RequestOf<C extends RequestChannel> = z.infer<(typeof requests)[C]['request']>;
export type ResponseOf<C extends RequestChannel> = z.infer<(typeof requests)[C]['response']>;
export type EventOf<C extends EventChannel> = z.infer<(typeof events)[C]>;
export type Disk = z.infer<typeof disk>;
export type DiskSummary = z.infer<typeof diskSummary>;
export type CaptureState = z.infer<typeof captureState>;
export type Point = z.infer<typeof point>;
export type Bookmark = z.infer<typeof bookmark>;
export type ActivityBucket = z.infer<typeof activityBucket>;
export type Volume = z.infer<typeof volume>;
export type FileEntry = z.infer<typeof fileEntry>;
export type FileVersion = z.infer<typeof fileVersion>;
export type Drive = z.infer<typeof drive>;
export type DrivePartition = z.infer<typeof drivePartition>;
export type RestoreTarget = z.infer<typeof restoreTarget>;
export type RestoreDestination = z.infer<typeof restoreDestination>;
export type Retention = z.infer<typeof retention>;
export type Settings = z.infer<typeof settings>;
export type Job = z.infer<typeof job>;
export type ScanOutcome = z.infer<typeof scanOutcome>;
export type ThinOutcome = z.infer<typeof thinOutcome>;
export type RebuildOutcome = z.infer<typeof rebuildOutcome>;
export type RestoreOutcome = z.infer<typeof restoreOutcome>;
export type JobPhase = z.infer<typeof jobPhase>;
export type Status = z.infer<typeof status>;
export type ServiceConnection = z.infer<typeof serviceConnection>;
export type ServiceStart = z.infer<typeof serviceStart>;

/** The envelope on the wire (service socket, WebSocket, Electron IPC): one JSON object per message. */
const envelopeKinds = {
  request: z.object({ type: z.literal('request'), id: z.number().int().nonnegative(), channel: z.string(), payload: z.unknown() }),
  okResponse: z.object({ type: z.literal('response'), id: z.number().int().nonnegative(), ok: z.literal(true), payload: z.unknown() }),
  errorResponse: z.object({ type: z.literal('response'), id: z.number().int().nonnegative(), ok: z.literal(false), error: errorInfo }),
  event: z.object({ type: z.literal('event'), channel: z.string(), payload: z.unknown() }),
};
export const envelope = z.union([envelopeKinds.request, envelopeKinds.okResponse, envelopeKinds.errorResponse, envelopeKinds.event]);
export type Envelope = z.infer<typeof envelope>;

/** Largest envelope any side accepts, in characters of JSON (a listFiles of a big directory fits). */
export const MAX_ENVELOPE_CHARS = 16 * 1024 * 1024;

export function isRequestChannel(name: string): name is RequestChannel {
  return Object.hasOwn(requests, name);
}

export function isEventChannel(name: string): name is EventChannel {
  return Object.hasOwn(events, name);
}

/** A contract violation: a message that does not fit its schema (code 'usage' on the wire). */
export class ContractError extends Error {
  readonly code = 'usage' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ContractError';
  }
}

/** Parses one wire message (JSON text) into an envelope; throws ContractError naming what is wrong. */
export function parseEnvelope(text: string): Envelope {
  if (text.length > MAX_ENVELOPE_CHARS) throw new ContractError(`message of ${text.length} characters is over the limit of ${MAX_ENVELOPE_CHARS}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ContractError('message is not JSON');
  }
  // Pick the kind by `type` (and `ok`) first, so the error names the field that is wrong,
  // not "invalid input" for the whole union.
  const v = value as { type?: unknown; ok?: unknown } | null;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ContractError('bad envelope: not a JSON object');
  const kind =
    v.type === 'request' ? envelopeKinds.request
    : v.type === 'event' ? envelopeKinds.event
    : v.type === 'response' ? (v.ok === false ? envelopeKinds.errorResponse : envelopeKinds.okResponse)
    : undefined;
  if (!kind) throw new ContractError(`bad envelope: type must be "request", "response" or "event", not ${JSON.stringify(v.type) ?? 'missing'}`);
  if (kind !== envelopeKinds.errorResponse && !Object.hasOwn(v, 'payload')) throw new ContractError('bad envelope: payload: missing (send {} when there is nothing to say)');
  const r = kind.safeParse(value);
  if (!r.success) throw new ContractError(`bad envelope: ${summarizeIssues(r.error)}`);
  return r.data as Envelope;
}

/** Validates a request payload for a channel; throws a one-line ContractError when it does not fit. */
export function parseRequest<C extends RequestChannel>(channel: C, payload: unknown): RequestOf<C> {
  const r = requests[channel].request.safeParse(payload);
  if (!r.success) throw new ContractError(`bad ${channel} request: ${summarizeIssues(r.error)}`);
  return r.data as RequestOf<C>;
}

export function parseResponse<C extends RequestChannel>(channel: C, payload: unknown): ResponseOf<C> {
  const r = requests[channel].response.safeParse(payload);
  if (!r.success) throw new ContractError(`bad ${channel} response: ${summarizeIssues(r.error)}`);
  return r.data as ResponseOf<C>;
}

export function parseEvent<C extends EventChannel>(channel: C, payload: unknown): EventOf<C> {
  const r = events[channel].safeParse(payload);
  if (!r.success) throw new ContractError(`bad ${channel} event: ${summarizeIssues(r.error)}`);
  return r.data as EventOf<C>;
}

function summarizeIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}
