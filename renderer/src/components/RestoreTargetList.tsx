/** The devices a disk can be restored onto; unusable ones disabled with every problem listed (balenaEtcher's list). */
import { formatBytes } from '../../../shared/units.js';
import { useDiskRestoreStore } from '../stores/disk-restore-store.js';

export function RestoreTargetList() {
  const targets = useDiskRestoreStore((s) => s.targets);
  const target = useDiskRestoreStore((s) => s.target);
  const choose = useDiskRestoreStore((s) => s.chooseTarget);
  if (targets === undefined) return <p className="muted">Looking for disks to restore onto…</p>;
  if (targets.length === 0) return <p className="form-problem">No disk to restore onto was found.</p>;
  return (
    <fieldset className="choice-list">
      <legend>Restore onto</legend>
      {targets.map((t) => {
        const problemsId = `target-problems-${t.device}`;
        return (
          <label key={t.device} className={t.usable ? 'choice' : 'choice choice-disabled'}>
            <input
              type="radio"
              name="target"
              value={t.device}
              checked={target === t.device}
              disabled={!t.usable}
              aria-describedby={t.problems.length ? problemsId : undefined}
              onChange={() => choose(t.device)}
            />
            <span className="choice-text">
              <span className="choice-title">
                {t.inPlace ? 'This disk itself — roll back only what changed' : t.description || t.device} <span className="muted">{formatBytes(t.size)}</span>
              </span>
              <span className="choice-sub">{t.inPlace ? `${t.device} · ${t.description}` : t.device}</span>
              {t.problems.length > 0 && (
                <ul className="choice-problems" id={problemsId}>
                  {t.problems.map((p) => (
                    <li key={p}>{p}</li>
                  ))}
                </ul>
              )}
            </span>
          </label>
        );
      })}
    </fieldset>
  );
}
