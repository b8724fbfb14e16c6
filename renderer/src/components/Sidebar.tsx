/** The left column: the disks, "Protect a drive…", settings. */
import { useLayoutStore } from '../stores/layout-store.js';
import { useProtectStore } from '../stores/protect-store.js';
import { DiskList } from './DiskList.js';

export function Sidebar() {
  const begin = useProtectStore((s) => s.begin);
  const page = useLayoutStore((s) => s.page);
  const show = useLayoutStore((s) => s.show);
  return (
    <nav className="sidebar" aria-label="Disks and settings">
      <div className="brand">
        <span className="brand-mark" aria-hidden="true" />
        Chronodisk
      </div>
      <h2 className="sidebar-heading">Protected disks</h2>
      <DiskList />
      <button type="button" className="button button-ghost protect-button" onClick={() => void begin()}>
        + Protect a drive…
      </button>
      <div className="sidebar-foot">
        <button type="button" className={page === 'settings' ? 'nav-item nav-item-current' : 'nav-item'} aria-current={page === 'settings' ? 'page' : undefined} onClick={() => show('settings')}>
          Settings
        </button>
      </div>
    </nav>
  );
}
