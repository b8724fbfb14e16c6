/** Verifying the appliance from the window: a job in the jobs list, beside capture (Time Machine's "Verify Backups"). */
import { useJobsStore } from '../stores/jobs-store.js';

export function ApplianceCheck() {
  const verify = useJobsStore((s) => s.verifyAppliance);
  return (
    <fieldset className="settings-group">
      <legend>Verify</legend>
      <p className="form-hint">
        Reads everything the appliance holds and checks each piece against its checksum, while capture goes on. Damage is named with the points that need the damaged bytes.
      </p>
      <div className="settings-actions">
        <button type="button" className="button" onClick={() => void verify()}>
          Verify the appliance
        </button>
      </div>
    </fieldset>
  );
}
