import { useAppStore } from './store.js';
import { formatBytes } from '../../shared/units.js';

export function App() {
  const disks = useAppStore((s) => s.disks);
  const error = useAppStore((s) => s.error);
  return (
    <main>
      <h1>Chronodisk</h1>
      {error && <p role="alert">{error}</p>}
      {disks.length === 0 ? (
        <p>No protected disks yet.</p>
      ) : (
        <ul>
          {disks.map((d) => (
            <li key={d.id}>
              {d.name} — {formatBytes(d.size)} ({d.mode})
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
