import { ChronodiskError } from './errors.js';

const MAX_LABEL = 200;

/**
 * A bookmark's or a point's label: 1 to 200 characters on one line. Labels are shown in
 * one-line listings, tables and the window's timeline, where a newline or a tab would
 * break the row (and a long one the layout).
 */
export function checkLabel(label: string, what: 'bookmark' | 'point'): void {
  if (!label.trim() || label.length > MAX_LABEL) throw new ChronodiskError('usage', `a ${what} label needs 1 to ${MAX_LABEL} characters`);
  if (/[\u0000-\u001f\u007f]/.test(label)) throw new ChronodiskError('usage', `a ${what} label is one line of text: no newlines, tabs or other control characters`);
}
