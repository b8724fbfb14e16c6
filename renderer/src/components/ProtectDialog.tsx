/** "Protect a drive…": pick a drive the service offers (refused ones greyed with their reason), name it, pick a capture mode. */
import { useId } from 'react';
import { formatBytes } from '../../../shared/units.js';
import { driveRefusal, useProtectStore, type CaptureMode } from '../stores/protect-store.js';
import { Dialog } from './Dialog.js';

const modes: Array<{ mode: CaptureMode; text: string }> = [
  { mode: 'scan', text: 'Scan — read the disk periodically and keep what changed (any disk)' },
  { mode: 'track', text: 'Track — follow the kernel’s writes within a second (Linux)' },
  { mode: 'split', text: 'Split — every write kept before it is acknowledged (NBD, VM disks)' },
];

function DriveChoices() {
  const drives = useProtectStore((s) => s.drives);
  const device = useProtectStore((s) => s.device);
  const choose = useProtectStore((s) => s.chooseDrive);
  if (drives === undefined) return <p className="muted">Looking for drives…</p>;
  if (drives.length === 0) return <p className="muted">No drives found.</p>;
  return (
    <fieldset className="choice-list">
      <legend>Drive</legend>
      {drives.map((d) => {
        const refusal = driveRefusal(d);
        const reasonId = `drive-reason-${d.device}`;
        return (
          <label key={d.device} className={refusal ? 'choice choice-disabled' : 'choice'}>
            <input type="radio" name="drive" value={d.device} checked={device === d.device} disabled={refusal !== undefined} aria-describedby={refusal ? reasonId : undefined} onChange={() => choose(d.device)} />
            <span className="choice-text">
              <span className="choice-title">
                {d.description || d.device} <span className="muted">{formatBytes(d.size)}</span>
              </span>
              <span className="choice-sub">
                {d.device}
                {d.mountpoints.length > 0 && ` · mounted at ${d.mountpoints.join(', ')}`}
              </span>
              {refusal && (
                <span className="choice-problem" id={reasonId}>
                  {refusal}
                </span>
              )}
            </span>
          </label>
        );
      })}
    </fieldset>
  );
}

export function ProtectDialog() {
  const open = useProtectStore((s) => s.open);
  const name = useProtectStore((s) => s.name);
  const mode = useProtectStore((s) => s.mode);
  const device = useProtectStore((s) => s.device);
  const problem = useProtectStore((s) => s.problem);
  const busy = useProtectStore((s) => s.busy);
  const { setName, setMode, submit, close } = useProtectStore.getState();
  const nameId = useId();
  const modeId = useId();
  if (!open) return null;
  return (
    <Dialog
      title="Protect a drive"
      onClose={close}
      wide
      actions={
        <>
          <button type="button" className="button" onClick={close}>
            Cancel
          </button>
          <button type="button" className="button button-primary" disabled={!device || busy} onClick={() => void submit()}>
            {busy ? 'Protecting…' : 'Protect'}
          </button>
        </>
      }
    >
      <DriveChoices />
      <div className="form-row">
        <label htmlFor={nameId}>Name</label>
        <input id={nameId} value={name} maxLength={128} onChange={(e) => setName(e.target.value)} placeholder="home" />
      </div>
      <div className="form-row">
        <label htmlFor={modeId}>Capture mode</label>
        <select id={modeId} value={mode} onChange={(e) => setMode(e.target.value as CaptureMode)}>
          {modes.map((m) => (
            <option key={m.mode} value={m.mode}>
              {m.text}
            </option>
          ))}
        </select>
      </div>
      {problem && (
        <p className="form-problem" role="alert">
          {problem}
        </p>
      )}
    </Dialog>
  );
}
