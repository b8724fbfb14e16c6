/** The protected disks: name, capture state (live), latest point. Selecting one browses it. */
import { formatBytes } from '../../../shared/units.js';
import { formatPointTime } from '../format/local-time.js';
import { useDisksStore } from '../stores/disks-store.js';
import { useLayoutStore } from '../stores/layout-store.js';
import { CaptureBadge } from './CaptureBadge.js';

export function DiskList() {
  const disks = useDisksStore((s) => s.disks);
  const loaded = useDisksStore((s) => s.loaded);
  const selected = useDisksStore((s) => s.selected);
  const select = useDisksStore((s) => s.select);
  const page = useLayoutStore((s) => s.page);
  const show = useLayoutStore((s) => s.show);
  if (loaded && disks.length === 0) return <p className="sidebar-empty">No protected disks yet.</p>;
  return (
    <ul className="disk-list" aria-label="Protected disks">
      {disks.map((d) => {
        const current = d.name === selected && page === 'browser';
        return (
          <li key={d.name}>
            <button
              type="button"
              className={current ? 'disk-item disk-item-current' : 'disk-item'}
              aria-current={current ? 'true' : undefined}
              aria-label={`Disk ${d.name}`}
              onClick={() => {
                select(d.name);
                show('browser');
              }}
            >
              <span className="disk-icon" aria-hidden="true" />
              <span className="disk-text">
                <span className="disk-title">
                  <span className="disk-name">{d.name}</span>
                  <CaptureBadge state={d.state} message={d.message} />
                </span>
                <span className="disk-meta">
                  {formatBytes(d.size)} · {d.mode}
                </span>
                <span className="disk-meta">{d.latestUs !== undefined ? `Latest ${formatPointTime(d.latestUs)}` : 'No points yet'}</span>
              </span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}
