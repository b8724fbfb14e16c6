/**
 * Shows its children above any open modal dialog. A modal <dialog> sits in the browser's
 * top layer, above every z-index, and makes the rest of the page inert: a toast or the
 * not-connected notice rendered beside it would sit dimmed behind its backdrop, out of
 * reach. Inside the innermost dialog they share its top layer; `position: fixed` still
 * places them on the viewport (a dialog is not their containing block).
 */
import type { ReactNode } from 'react';
import { createPortal } from 'react-dom';
import { useOpenDialogsStore } from '../stores/open-dialogs-store.js';

export function AboveDialogs({ children }: { children: ReactNode }) {
  const top = useOpenDialogsStore((s) => s.stack[s.stack.length - 1]);
  return top ? createPortal(children, top) : <>{children}</>;
}
