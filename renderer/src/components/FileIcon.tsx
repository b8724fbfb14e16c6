/** A small drawn icon per entry type (no emoji font is promised on every desktop). */
import type { FileEntry } from '../../../shared/contract.js';

export function FileIcon({ type }: { type: FileEntry['type'] }) {
  if (type === 'dir')
    return (
      <svg className="file-icon icon-dir" viewBox="0 0 20 16" aria-hidden="true">
        <path d="M1 3a2 2 0 0 1 2-2h4.2l2 2H17a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2z" />
      </svg>
    );
  if (type === 'symlink')
    return (
      <svg className="file-icon icon-link" viewBox="0 0 20 16" aria-hidden="true">
        <path d="M4 1h8l4 4v10H4z" />
        <path className="icon-mark" d="M7 11l5-5M9 6h3v3" fill="none" strokeWidth="1.4" />
      </svg>
    );
  return (
    <svg className={type === 'file' ? 'file-icon icon-file' : 'file-icon icon-other'} viewBox="0 0 20 16" aria-hidden="true">
      <path d="M4 1h8l4 4v10H4z" />
      <path className="icon-fold" d="M12 1v4h4" />
    </svg>
  );
}
