/** The main area on a disk: toolbar, breadcrumbs, listing (or why there is none), versions beside it. */
import { useBrowserStore } from '../stores/browser-store.js';
import { hasNoPoints, selectedDisk, useDisksStore } from '../stores/disks-store.js';
import { Breadcrumbs } from './Breadcrumbs.js';
import { BrowserToolbar } from './BrowserToolbar.js';
import { FileTable } from './FileTable.js';
import { RemedyButton } from './RemedyButton.js';
import { VersionsPanel } from './VersionsPanel.js';

export function BrowserPane() {
  const disk = useDisksStore(selectedDisk);
  const loaded = useDisksStore((s) => s.loaded);
  const problem = useBrowserStore((s) => s.problem);
  const loading = useBrowserStore((s) => s.loading);
  const volume = useBrowserStore((s) => s.volumes.find((v) => v.address === s.volume));
  if (!disk) {
    return (
      <section className="empty-state" aria-label="No disk">
        <div className="empty-art" aria-hidden="true" />
        <h1>{loaded ? 'Protect a drive to begin' : 'Loading…'}</h1>
        {loaded && <p>Chronodisk keeps every change of the drives you protect. Choose “Protect a drive…” on the left.</p>}
      </section>
    );
  }
  return (
    <section className="browser" aria-label={`Files of ${disk.name}`} aria-busy={loading}>
      <BrowserToolbar disk={disk.name} />
      {hasNoPoints(disk) ? (
        <p className="browser-problem">No points yet: the first capture of {disk.name} has not finished.</p>
      ) : (
        <div className="browser-body">
          <div className="listing">
            <Breadcrumbs rootName={volume?.label || (volume && volume.partition > 0 ? `Partition ${volume.partition}` : disk.name)} />
            {problem ? (
              <p className="browser-problem" role="status">
                {problem.text}
                {problem.remedy && (
                  <>
                    {' '}
                    <RemedyButton remedy={problem.remedy} />
                  </>
                )}
              </p>
            ) : (
              <FileTable />
            )}
          </div>
          <VersionsPanel />
        </div>
      )}
    </section>
  );
}
