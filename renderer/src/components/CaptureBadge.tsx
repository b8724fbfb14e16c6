/** A disk's capture state as a coloured dot and a word. */
import type { CaptureState } from '../../../shared/contract.js';

const words: Record<CaptureState, string> = {
  idle: 'Idle',
  scanning: 'Scanning',
  tracking: 'Tracking',
  splitting: 'Splitting',
  paused: 'Paused',
  error: 'Error',
};

export function CaptureBadge({ state, message }: { state: CaptureState; message?: string }) {
  return (
    <span className={`badge badge-${state}`} title={message}>
      <span className="badge-dot" aria-hidden="true" />
      {words[state]}
    </span>
  );
}
