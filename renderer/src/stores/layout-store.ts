/** Which page the main area shows. */
import { create } from 'zustand';

export type Page = 'browser' | 'settings';

interface LayoutState {
  page: Page;
  show(page: Page): void;
}

export const useLayoutStore = create<LayoutState>((set) => ({
  page: 'browser',
  show: (page) => set({ page }),
}));
