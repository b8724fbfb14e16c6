/** One-line messages at the corner of the window: failed requests, finished jobs. */
import { create } from 'zustand';
import type { Remedy } from '../../../shared/errors.js';

export interface Toast {
  id: number;
  message: string;
  tone: 'error' | 'info';
  /** What the error says to do, offered as a button (see Toasts). */
  remedy?: Remedy;
}

interface ToastState {
  toasts: Toast[];
  push(message: string, tone?: Toast['tone'], remedy?: Remedy): void;
  dismiss(id: number): void;
}

const SHOWN_MS = 8000;
/** A toast that offers a remedy stays long enough to be acted on. */
const SHOWN_WITH_ACTION_MS = 30_000;
let nextId = 1;

export const useToastStore = create<ToastState>((set, get) => ({
  toasts: [],
  push(message, tone = 'error', remedy) {
    const line = message.split('\n')[0]!;
    // The same line twice in a row (a poll failing again) shows once.
    if (get().toasts.some((t) => t.message === line)) return;
    const id = nextId++;
    set((s) => ({ toasts: [...s.toasts.slice(-3), { id, message: line, tone, ...(remedy ? { remedy } : {}) }] }));
    setTimeout(() => get().dismiss(id), remedy ? SHOWN_WITH_ACTION_MS : SHOWN_MS);
  },
  dismiss(id) {
    set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) }));
  },
}));
