/** In place of the window while there is no service: why, and a way to try again. */
import { useConnectionStore } from '../stores/connection-store.js';

export function NotConnected() {
  const state = useConnectionStore((s) => s.state);
  const reason = useConnectionStore((s) => s.reason);
  const connect = useConnectionStore((s) => s.connect);
  const canStart = useConnectionStore((s) => s.canStartService);
  const startService = useConnectionStore((s) => s.startService);
  return (
    <div className="not-connected" role="alertdialog" aria-labelledby="not-connected-title" aria-describedby="not-connected-reason">
      <div className="not-connected-card">
        <div className="empty-art" aria-hidden="true" />
        <h1 id="not-connected-title">{state === 'connecting' ? 'Connecting to the Chronodisk service…' : 'Not connected to the Chronodisk service'}</h1>
        <p id="not-connected-reason">{state === 'connecting' ? 'One moment.' : reason}</p>
        {state === 'disconnected' && canStart && (
          <>
            <p className="muted">The window reconnects as soon as the service is back.</p>
            <button type="button" className="button button-primary" onClick={() => void startService()}>
              Start the service
            </button>
          </>
        )}
        {state === 'disconnected' && !canStart && (
          <>
            <p className="muted">Start it with <code>chronodisk ui</code> (or the Chronodisk service), then try again. The window retries by itself every few seconds.</p>
            <button type="button" className="button button-primary" onClick={() => void connect()}>
              Try again
            </button>
          </>
        )}
      </div>
    </div>
  );
}
