/** One-line messages (failed requests, saved settings), newest last; each can be dismissed. */
import { useToastStore } from '../stores/toast-store.js';
import { RemedyButton } from './RemedyButton.js';

export function Toasts() {
  const toasts = useToastStore((s) => s.toasts);
  const dismiss = useToastStore((s) => s.dismiss);
  return (
    <div className="toasts" aria-live="assertive">
      {toasts.map((t) => (
        <div key={t.id} className={`toast toast-${t.tone}`} role={t.tone === 'error' ? 'alert' : 'status'}>
          <span>{t.message}</span>
          {t.remedy && <RemedyButton remedy={t.remedy} className="button toast-action" onRun={() => dismiss(t.id)} />}
          <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
