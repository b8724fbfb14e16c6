/** Settings: scan interval, read limit, retention tiers, folders restored files may go to; verifying the appliance. */
import { useEffect, useId, useState, type FormEvent } from 'react';
import { ApplianceCheck } from './ApplianceCheck.js';
import { useSettingsStore, type SettingsDraft } from '../stores/settings-store.js';

function Field({ label, hint, name, draft }: { label: string; hint: string; name: Exclude<keyof SettingsDraft, 'restoreFolders'>; draft: SettingsDraft }) {
  const edit = useSettingsStore((s) => s.edit);
  const id = useId();
  const hintId = useId();
  return (
    <div className="form-row">
      <label htmlFor={id}>{label}</label>
      <input id={id} value={draft[name]} aria-describedby={hintId} onChange={(e) => edit({ [name]: e.target.value })} />
      <span className="form-hint" id={hintId}>
        {hint}
      </span>
    </div>
  );
}

function RestoreFolders({ folders }: { folders: string[] }) {
  const edit = useSettingsStore((s) => s.edit);
  const [adding, setAdding] = useState('');
  const id = useId();
  const add = () => {
    if (!adding.trim()) return;
    edit({ restoreFolders: [...folders, adding.trim()] });
    setAdding('');
  };
  return (
    <fieldset className="settings-group">
      <legend>Restore folders</legend>
      <p className="form-hint">Restored files may be written into these folders (each an existing directory), besides where they came from.</p>
      <ul className="folder-list" aria-label="Restore folders">
        {folders.map((f, i) => (
          <li key={`${f}-${i}`}>
            <code>{f}</code>
            <button type="button" className="button button-small" aria-label={`Remove ${f}`} onClick={() => edit({ restoreFolders: folders.filter((_, k) => k !== i) })}>
              Remove
            </button>
          </li>
        ))}
      </ul>
      <div className="folder-add">
        <label htmlFor={id} className="visually-hidden">
          Folder to add
        </label>
        <input id={id} value={adding} placeholder="/home/me/Restored" onChange={(e) => setAdding(e.target.value)} onKeyDown={(e) => e.key === 'Enter' && (e.preventDefault(), add())} />
        <button type="button" className="button button-small" onClick={add}>
          Add folder
        </button>
      </div>
    </fieldset>
  );
}

export function SettingsPage() {
  const draft = useSettingsStore((s) => s.draft);
  const problem = useSettingsStore((s) => s.problem);
  const busy = useSettingsStore((s) => s.busy);
  const { load, save } = useSettingsStore.getState();
  useEffect(() => void load(), [load]);
  if (!draft) return <section className="settings" aria-label="Settings"><p className="muted">Loading settings…</p></section>;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void save();
  };
  return (
    <section className="settings" aria-label="Settings">
      <h1>Settings</h1>
      <form onSubmit={submit}>
        <fieldset className="settings-group">
          <legend>Capture</legend>
          <Field label="Scan interval (seconds)" hint="How often scan-mode disks are read again." name="scanIntervalSec" draft={draft} />
          <Field label="Read limit (MiB/s)" hint="Scans read at most this fast; 0 for no limit." name="rateLimitMiB" draft={draft} />
        </fieldset>
        <fieldset className="settings-group">
          <legend>History</legend>
          <p className="form-hint">Chronodisk thins older points to these once a day, and sooner when the appliance runs low. Bookmarked points stay until you remove the bookmark.</p>
          <Field label="Keep every point for" hint="Such as 24h or 1d." name="keepAll" draft={draft} />
          <Field label="Keep hourly points until" hint="Such as 30d." name="hourly" draft={draft} />
          <Field label="Keep daily points until" hint="Such as 1y." name="daily" draft={draft} />
          <Field label="Keep weekly points until" hint="Such as 5y, or forever." name="weekly" draft={draft} />
        </fieldset>
        <RestoreFolders folders={draft.restoreFolders} />
        {problem && (
          <p className="form-problem" role="alert">
            {problem}
          </p>
        )}
        <div className="settings-actions">
          <button type="button" className="button" onClick={() => void load()}>
            Revert
          </button>
          <button type="submit" className="button button-primary" disabled={busy}>
            Save settings
          </button>
        </div>
      </form>
      <ApplianceCheck />
    </section>
  );
}
