/** What the tray and the app menu can ask the app to do. */
export interface ShellActions {
  showWindow(): void;
  pauseCapture(): void;
  resumeCapture(): void;
  startService(): void;
  quit(): void;
}
