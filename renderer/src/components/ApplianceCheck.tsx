/**
 * Verifying the appliance from the window (Time Machine's "Verify Backups"), and rebuilding
 * its index: both jobs in the jobs list, beside capture; the same buttons an error that
 * names either remedy offers.
 */
import { RemedyButton } from './RemedyButton.js';

export function ApplianceCheck() {
  return (
    <fieldset className="settings-group">
      <legend>Verify</legend>
      <p className="form-hint">
        Reads everything the appliance holds and checks each piece against its checksum, while capture goes on. Damage is named with the points that need the damaged bytes.
      </p>
      <p className="form-hint">
        The index is a cache of the appliance's history, built from its segments. Rebuild it when an error says it does not match them; no captured data is changed.
      </p>
      <div className="settings-actions">
        <RemedyButton remedy="verify" />
        <RemedyButton remedy="rebuild-index" />
      </div>
    </fieldset>
  );
}
