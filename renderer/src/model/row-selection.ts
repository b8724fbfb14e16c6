/**
 * Multi-select in a list, as file managers do it: a click selects one, Ctrl/⌘-click toggles,
 * Shift-click selects the range from the anchor. Pure.
 */

export interface RowSelection {
  selected: readonly string[];
  anchor: string | undefined;
}

export type ClickKind = 'single' | 'toggle' | 'range';

export function clickRow(sel: RowSelection, order: readonly string[], name: string, kind: ClickKind): RowSelection {
  if (kind === 'toggle') {
    const has = sel.selected.includes(name);
    return { selected: has ? sel.selected.filter((n) => n !== name) : [...sel.selected, name], anchor: name };
  }
  if (kind === 'range' && sel.anchor !== undefined && order.includes(sel.anchor)) {
    const a = order.indexOf(sel.anchor);
    const b = order.indexOf(name);
    const [lo, hi] = a <= b ? [a, b] : [b, a];
    return { selected: order.slice(lo, hi + 1), anchor: sel.anchor };
  }
  return { selected: [name], anchor: name };
}

/** Keeps only the names still listed (after the listing changed). */
export function keepListed(sel: RowSelection, order: readonly string[]): RowSelection {
  const listed = new Set(order);
  return {
    selected: sel.selected.filter((n) => listed.has(n)),
    anchor: sel.anchor !== undefined && listed.has(sel.anchor) ? sel.anchor : undefined,
  };
}
