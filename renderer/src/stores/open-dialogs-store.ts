/** The modal dialogs open now, innermost last: what must show above them goes into the last (AboveDialogs). */
import { create } from 'zustand';

interface OpenDialogsState {
  stack: HTMLDialogElement[];
  opened(d: HTMLDialogElement): void;
  closed(d: HTMLDialogElement): void;
}

export const useOpenDialogsStore = create<OpenDialogsState>((set) => ({
  stack: [],
  opened: (d) => set((s) => ({ stack: [...s.stack.filter((x) => x !== d), d] })),
  closed: (d) => set((s) => ({ stack: s.stack.filter((x) => x !== d) })),
}));
