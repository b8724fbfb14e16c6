/** Where in the filesystem the listing is; each part opens that folder. */
import { breadcrumbs } from '../model/inner-path.js';
import { useBrowserStore } from '../stores/browser-store.js';

export function Breadcrumbs({ rootName }: { rootName: string }) {
  const path = useBrowserStore((s) => s.path);
  const navigate = useBrowserStore((s) => s.navigate);
  const crumbs = breadcrumbs(path, rootName);
  return (
    <nav className="breadcrumbs" aria-label="Folder path">
      <ol>
        {crumbs.map((c, i) => (
          <li key={c.path}>
            {i === crumbs.length - 1 ? (
              <span aria-current="location">{c.name}</span>
            ) : (
              <button type="button" className="crumb" onClick={() => void navigate(c.path)}>
                {c.name}
              </button>
            )}
          </li>
        ))}
      </ol>
    </nav>
  );
}
