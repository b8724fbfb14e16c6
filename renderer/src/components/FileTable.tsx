/** The listing: folders first, size and modification time, click / Ctrl-click / Shift-click to select. */
import type { KeyboardEvent, MouseEvent } from 'react';
import type { FileEntry } from '../../../shared/contract.js';
import { formatBytes } from '../../../shared/units.js';
import { formatFileTime } from '../format/local-time.js';
import { joinPath } from '../model/inner-path.js';
import type { ClickKind } from '../model/row-selection.js';
import { useBrowserStore } from '../stores/browser-store.js';
import { FileIcon } from './FileIcon.js';

function clickKind(e: MouseEvent | KeyboardEvent): ClickKind {
  return e.shiftKey ? 'range' : e.ctrlKey || e.metaKey ? 'toggle' : 'single';
}

function Row({ entry, selected }: { entry: FileEntry; selected: boolean }) {
  const click = useBrowserStore((s) => s.click);
  const navigate = useBrowserStore((s) => s.navigate);
  const path = useBrowserStore((s) => s.path);
  const open = () => entry.type === 'dir' && void navigate(joinPath(path, entry.name));
  return (
    <tr
      className={selected ? 'row row-selected' : 'row'}
      aria-label={entry.name}
      onClick={(e) => click(entry.name, clickKind(e))}
      onDoubleClick={open}
    >
      <td className="cell-check">
        <input
          type="checkbox"
          aria-label={`Select ${entry.name}`}
          checked={selected}
          onClick={(e) => e.stopPropagation()}
          onChange={() => click(entry.name, 'toggle')}
        />
      </td>
      <td>
        <div className="cell-name">
        <FileIcon type={entry.type} />
        {entry.type === 'dir' ? (
          <button
            type="button"
            className="link-button"
            aria-label={`Open folder ${entry.name}`}
            onClick={(e) => {
              e.stopPropagation();
              open();
            }}
          >
            {entry.name}
          </button>
        ) : (
          <span>{entry.name}</span>
        )}
        {entry.type === 'symlink' && entry.target !== undefined && <span className="muted"> → {entry.target}</span>}
        </div>
      </td>
      <td className="cell-size">{entry.type === 'dir' ? '—' : formatBytes(entry.size)}</td>
      <td className="cell-date">{formatFileTime(entry.mtimeUs)}</td>
    </tr>
  );
}

export function FileTable() {
  const entries = useBrowserStore((s) => s.entries);
  const selected = useBrowserStore((s) => s.selection.selected);
  const setSelected = useBrowserStore((s) => s.setSelected);
  const all = entries.length > 0 && selected.length === entries.length;
  return (
    <table className="file-table" aria-label="Files">
      <thead>
        <tr>
          <th className="cell-check">
            <input type="checkbox" aria-label="Select all" checked={all} disabled={entries.length === 0} onChange={() => setSelected(all ? [] : entries.map((e) => e.name))} />
          </th>
          <th>Name</th>
          <th className="cell-size">Size</th>
          <th className="cell-date">Modified</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((e) => (
          <Row key={e.name} entry={e} selected={selected.includes(e.name)} />
        ))}
      </tbody>
    </table>
  );
}
