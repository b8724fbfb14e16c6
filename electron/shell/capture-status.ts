/**
 * What the tray and the menu say about capture: capturing, paused, not capturing, or not
 * connected, from the connection's state and the service's status. The follower asks for
 * the status when the connection comes up and again whenever capture changes.
 */
import type { EventChannel, ServiceConnection, Status } from '../../shared/contract.js';
import type { ContractApi } from '../../shared/contract-client.js';

export type CaptureState = 'capturing' | 'paused' | 'idle' | 'not-connected';

export interface CaptureView {
  state: CaptureState;
  /** One line for the tray's tooltip and menu. */
  line: string;
}

export function captureView(connection: ServiceConnection, status: Status | undefined): CaptureView {
  if (connection.state !== 'connected') {
    return { state: 'not-connected', line: connection.state === 'connecting' ? 'Connecting to the service…' : 'Not connected to the service' };
  }
  if (!status) return { state: 'idle', line: 'Connected' };
  if (status.paused !== undefined) return { state: 'paused', line: `Paused: ${status.paused}` };
  if (status.writer) return { state: 'capturing', line: 'Capturing' };
  return { state: 'idle', line: 'Not capturing' };
}

/** Events after which the status may have changed. */
const STATUS_EVENTS: EventChannel[] = ['captureStatus', 'disksChanged'];

export class CaptureStatusFollower {
  private status: Status | undefined;
  private fetching = false;
  private again = false;
  private readonly offs: Array<() => void> = [];

  constructor(
    private readonly service: ContractApi & {
      readonly state: ServiceConnection;
      onState(listener: (s: ServiceConnection) => void): () => void;
    },
    private readonly changed: (view: CaptureView) => void,
  ) {
    this.offs.push(
      service.onState((s) => {
        if (s.state === 'connected') this.refresh();
        else this.status = undefined;
        this.publish();
      }),
    );
    for (const channel of STATUS_EVENTS) this.offs.push(service.on(channel, () => this.refresh()));
  }

  get view(): CaptureView {
    return captureView(this.service.state, this.status);
  }

  /** Asks the service for its status (at most one request at a time; one more if asked meanwhile). */
  refresh(): void {
    if (this.fetching) {
      this.again = true;
      return;
    }
    this.fetching = true;
    this.service
      .request('status', {})
      .then((s) => (this.status = s))
      .catch(() => (this.status = undefined))
      .finally(() => {
        this.fetching = false;
        this.publish();
        if (this.again) {
          this.again = false;
          this.refresh();
        }
      });
  }

  close(): void {
    for (const off of this.offs.splice(0)) off();
  }

  private publish(): void {
    this.changed(this.view);
  }
}
