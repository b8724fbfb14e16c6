/**
 * Option haggling (fixed newstyle): answers one option at a time and decides when the
 * connection enters transmission. Pure apart from asking the provider for exports.
 */
import type { ExportProvider, NbdExport } from './export.js';
import * as P from './protocol.js';

/** Where a connection stands once it enters transmission. */
export interface Transmission {
  export: NbdExport;
  name: string;
  flags: number;
  structured: boolean;
  /** The id of base:allocation when the client selected it for this export (BLOCK_STATUS allowed). */
  allocationContext?: number;
  minBlock: number;
  maxPayload: number;
}

/** The id we give base:allocation (any nonzero value would do). */
export const ALLOCATION_CONTEXT_ID = 1;

export type OptionOutcome =
  | { kind: 'continue'; replies: Buffer[] }
  /** Send the replies, then end the connection. */
  | { kind: 'close'; replies: Buffer[] }
  | { kind: 'transmit'; replies: Buffer[]; transmission: Transmission };

/** Transmission flags for an export, given what was negotiated. */
export function transmissionFlags(exp: NbdExport, structured: boolean): number {
  let f = P.TF_HAS_FLAGS | P.TF_SEND_CACHE;
  if (exp.readOnly) f |= P.TF_READ_ONLY;
  if (exp.flush) f |= P.TF_SEND_FLUSH;
  if (!exp.readOnly && exp.write && exp.flush) f |= P.TF_SEND_FUA;
  if (!exp.readOnly && exp.trim) f |= P.TF_SEND_TRIM;
  if (!exp.readOnly && (exp.zero || exp.write)) f |= P.TF_SEND_WRITE_ZEROES | P.TF_SEND_FAST_ZERO;
  if (exp.canMultiConn) f |= P.TF_CAN_MULTI_CONN;
  if (structured) f |= P.TF_SEND_DF;
  return f;
}

export class Negotiation {
  structured = false;
  noZeroes = false;
  /** Set when the server is closing: every option but ABORT gets NBD_REP_ERR_SHUTDOWN. */
  shuttingDown = false;
  /** The export name the client last selected base:allocation for (NBD_OPT_SET_META_CONTEXT). */
  private allocationFor?: string;

  constructor(
    private readonly provider: ExportProvider,
    private readonly maxPayload: number,
  ) {}

  async handle(option: number, data: Buffer): Promise<OptionOutcome> {
    const err = (type: number, message: string): OptionOutcome => ({
      kind: 'continue',
      replies: [P.encodeOptionError(option, type, message)],
    });
    if (option === P.OPT_ABORT) return { kind: 'close', replies: [P.encodeOptionReply(option, P.REP_ACK)] };
    if (this.shuttingDown) {
      if (option === P.OPT_EXPORT_NAME) return { kind: 'close', replies: [] };
      return err(P.REP_ERR_SHUTDOWN, 'the server is shutting down');
    }
    switch (option) {
      case P.OPT_EXPORT_NAME:
        return this.exportName(data);
      case P.OPT_LIST:
        if (data.length !== 0) return err(P.REP_ERR_INVALID, 'NBD_OPT_LIST takes no data');
        return this.list();
      case P.OPT_STARTTLS:
        return err(P.REP_ERR_POLICY, 'TLS is not offered: this server listens on a local socket only');
      case P.OPT_INFO:
      case P.OPT_GO:
        return this.infoOrGo(option, data);
      case P.OPT_LIST_META_CONTEXT:
      case P.OPT_SET_META_CONTEXT:
        return this.metaContext(option, data);
      case P.OPT_STRUCTURED_REPLY:
        if (data.length !== 0) return err(P.REP_ERR_INVALID, 'NBD_OPT_STRUCTURED_REPLY takes no data');
        if (this.structured) return err(P.REP_ERR_INVALID, 'structured replies are already negotiated');
        this.structured = true;
        return { kind: 'continue', replies: [P.encodeOptionReply(option, P.REP_ACK)] };
      default:
        return err(P.REP_ERR_UNSUP, `option ${option} is not supported by this server`);
    }
  }

  /** base:allocation is the only context: listed for "base:" or itself, selected by its name. */
  private metaContext(option: number, data: Buffer): OptionOutcome {
    const err = (type: number, message: string): OptionOutcome => ({ kind: 'continue', replies: [P.encodeOptionError(option, type, message)] });
    const set = option === P.OPT_SET_META_CONTEXT;
    if (set) this.allocationFor = undefined; // SET replaces the selection even when it fails
    if (set && !this.structured) return err(P.REP_ERR_INVALID, 'negotiate structured replies before metadata contexts');
    const req = P.parseMetaContextRequest(data);
    if (!req) return err(P.REP_ERR_INVALID, 'malformed metadata context request');
    const wanted = set
      ? req.queries.includes(P.ALLOCATION_CONTEXT)
      : req.queries.length === 0 || req.queries.some((q) => q === 'base:' || q === P.ALLOCATION_CONTEXT);
    const replies: Buffer[] = [];
    if (wanted) {
      if (set) this.allocationFor = req.name;
      replies.push(P.encodeMetaContextReply(option, set ? ALLOCATION_CONTEXT_ID : 0, P.ALLOCATION_CONTEXT));
    }
    replies.push(P.encodeOptionReply(option, P.REP_ACK));
    return { kind: 'continue', replies };
  }

  private async list(): Promise<OptionOutcome> {
    const exports = await this.provider.list();
    const replies = exports.map((e) => P.encodeServerReply(e.name, e.description ?? ''));
    replies.push(P.encodeOptionReply(P.OPT_LIST, P.REP_ACK));
    return { kind: 'continue', replies };
  }

  private async exportName(data: Buffer): Promise<OptionOutcome> {
    const name = P.decodeString(data);
    // NBD_OPT_EXPORT_NAME cannot carry an error: the only refusal is hanging up.
    if (name === null) return { kind: 'close', replies: [] };
    const opened = await this.openQuietly(name);
    if (!opened) return { kind: 'close', replies: [] };
    const t = this.transmission(opened.export, opened.name, name);
    return { kind: 'transmit', replies: [P.encodeExportNameReply(opened.export.size, t.flags, this.noZeroes)], transmission: t };
  }

  private async infoOrGo(option: number, data: Buffer): Promise<OptionOutcome> {
    const req = P.parseInfoRequest(data);
    if (!req) return { kind: 'continue', replies: [P.encodeOptionError(option, P.REP_ERR_INVALID, 'malformed NBD_OPT_INFO/GO request')] };
    let opened;
    try {
      opened = await this.provider.open(req.name);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      return { kind: 'continue', replies: [P.encodeOptionError(option, P.REP_ERR_UNKNOWN, `export "${req.name}" cannot be opened: ${why}`)] };
    }
    if (!opened) {
      return { kind: 'continue', replies: [P.encodeOptionError(option, P.REP_ERR_UNKNOWN, `no export named "${req.name}" (NBD_OPT_LIST shows them)`)] };
    }
    const exp = opened.export;
    const t = this.transmission(exp, opened.name, req.name);
    const replies = [P.encodeInfoExport(option, exp.size, t.flags)];
    if (req.infos.includes(P.INFO_NAME)) replies.push(P.encodeInfoString(option, P.INFO_NAME, opened.name));
    if (req.infos.includes(P.INFO_DESCRIPTION) && opened.description) {
      replies.push(P.encodeInfoString(option, P.INFO_DESCRIPTION, opened.description));
    }
    const preferred = Math.max(exp.blockSizes?.preferred ?? 4096, t.minBlock, 512);
    replies.push(P.encodeInfoBlockSize(option, t.minBlock, preferred, t.maxPayload));
    replies.push(P.encodeOptionReply(option, P.REP_ACK));
    if (option === P.OPT_GO) return { kind: 'transmit', replies, transmission: t };
    await exp.close?.();
    return { kind: 'continue', replies };
  }

  private async openQuietly(name: string) {
    try {
      return await this.provider.open(name);
    } catch {
      return undefined;
    }
  }

  /** `requested` is the name as the client spelled it: a meta context applies only to that name. */
  private transmission(exp: NbdExport, name: string, requested: string): Transmission {
    return {
      export: exp,
      name,
      flags: transmissionFlags(exp, this.structured),
      structured: this.structured,
      allocationContext: this.structured && this.allocationFor === requested ? ALLOCATION_CONTEXT_ID : undefined,
      minBlock: exp.blockSizes?.minimum ?? 1,
      maxPayload: this.maxPayload,
    };
  }
}
