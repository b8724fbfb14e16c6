/**
 * The window's button for the remedy an error names (shared/errors.ts): where the CLI says
 * "run chronodisk check --read-data", the window offers to do it.
 */
import type { Remedy } from '../../../shared/errors.js';
import { useJobsStore } from '../stores/jobs-store.js';

const actions: Record<Remedy, { label: string; run: () => Promise<void> }> = {
  verify: { label: 'Verify the appliance', run: () => useJobsStore.getState().verifyAppliance() },
  'rebuild-index': { label: 'Rebuild the index', run: () => useJobsStore.getState().rebuildIndex() },
};

export function RemedyButton({ remedy, className = 'button', onRun }: { remedy: Remedy; className?: string; onRun?: () => void }) {
  const action = actions[remedy];
  return (
    <button
      type="button"
      className={className}
      onClick={() => {
        onRun?.();
        void action.run();
      }}
    >
      {action.label}
    </button>
  );
}
