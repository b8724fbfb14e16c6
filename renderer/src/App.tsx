/** The window: sidebar, main area (browser or settings), timeline at the right edge, status bar; dialogs above, and toasts and the not-connected notice above them. */
import { AboveDialogs } from './components/AboveDialogs.js';
import { BrowserPane } from './components/BrowserPane.js';
import { DiskRestoreWizard } from './components/DiskRestoreWizard.js';
import { JobsPanel } from './components/JobsPanel.js';
import { NotConnected } from './components/NotConnected.js';
import { ProtectDialog } from './components/ProtectDialog.js';
import { RestoreFilesDialog } from './components/RestoreFilesDialog.js';
import { SettingsPage } from './components/SettingsPage.js';
import { Sidebar } from './components/Sidebar.js';
import { StatusBar } from './components/StatusBar.js';
import { TimelinePane } from './components/TimelinePane.js';
import { Toasts } from './components/Toasts.js';
import { useConnectionStore } from './stores/connection-store.js';
import { useLayoutStore } from './stores/layout-store.js';

export function App() {
  const state = useConnectionStore((s) => s.state);
  const page = useLayoutStore((s) => s.page);
  const everConnected = useConnectionStore((s) => s.generation > 0);
  if (state !== 'connected' && !everConnected) return <NotConnected />;
  return (
    <div className="app">
      <Sidebar />
      <main className="main">{page === 'settings' ? <SettingsPage /> : <BrowserPane />}</main>
      {page === 'browser' && <TimelinePane />}
      <StatusBar />
      <JobsPanel />
      <ProtectDialog />
      <RestoreFilesDialog />
      <DiskRestoreWizard />
      <AboveDialogs>
        <Toasts />
        {state !== 'connected' && <NotConnected />}
      </AboveDialogs>
    </div>
  );
}
