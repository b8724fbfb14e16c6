/** One-line messages at the corner of the window: failed requests, finished jobs. */
import { create } from 'zustand';

export interface Toast {
  id: number;
  message: string;
  tone: 'error' | 'info';
}

interface ToastState {
  toasts: Toast[];
  push(message: string, tone?: Toast['tone']): void;
  dismiss(id: number): void;
}

const SHOWN_MS = 8000;
let nextId = 1;

export const useToastStore = create<ToastState>((set, get) => ({
  toasts: [],
  push(message, tone = 'error') {
    const line = message.split('\n')[0]!;
    // The same line twice in a row (a poll failing again) shows once.
    if (get().toasts.some((t) => t.message === line)) return;
    const id = nextId++;
    set((s) => ({ toasts: [...s.toasts.slice(-3), { id, message: line, tone }] }));
    setTimeout(() => get().dismiss(id), SHOWN_MS);
  },
  dismiss(id) {
    set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) }));
  },
}));
