/**
 * A STAND-IN FOR THE `electron` MODULE. The Electron binary cannot be downloaded or run
 * on these machines (shared/ENVIRONMENT.md), so the shell's tests replace the module with
 * this: the parts of app, BrowserWindow, ipcMain, ipcRenderer, contextBridge, Tray, Menu,
 * nativeImage, session and dialog that the shell uses, recording what it was asked to do.
 * IPC is carried in-process the way Electron carries it: ipcRenderer.invoke on a
 * renderer calls the ipcMain handler with that renderer's webContents and frame as the
 * sender, and webContents.send reaches that renderer's ipcRenderer listeners.
 * Everything behind the main process (the service socket) is real.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { pathToFileURL } from 'node:url';

type Handler = (event: unknown, ...args: unknown[]) => unknown;
type RendererListener = (event: unknown, ...args: unknown[]) => void;

export interface Frame {
  url: string;
  parent: Frame | null;
}

let nextId = 1;

export class FakeWebContents extends EventEmitter {
  readonly id = nextId++;
  readonly mainFrame: Frame = { url: 'about:blank', parent: null };
  /** The renderer side: its ipcRenderer listeners, by channel. */
  readonly rendererListeners = new Map<string, Set<RendererListener>>();
  windowOpenHandler: ((details: { url: string }) => { action: string }) | undefined;
  destroyed = false;

  send(channel: string, ...args: unknown[]): void {
    // Electron clones what it sends; so does this.
    const copy = structuredClone(args);
    for (const l of this.rendererListeners.get(channel) ?? []) l({ sender: null }, ...copy);
  }

  setWindowOpenHandler(handler: (details: { url: string }) => { action: string }): void {
    this.windowOpenHandler = handler;
  }

  isDestroyed(): boolean {
    return this.destroyed;
  }

  /** Emits a cancellable event the way Electron does (will-navigate, …); true when prevented. */
  attempt(name: string, ...args: unknown[]): boolean {
    let prevented = false;
    this.emit(name, { preventDefault: () => (prevented = true) }, ...args);
    return prevented;
  }
}

export function makeElectronStandIn() {
  const handlers = new Map<string, Handler>();
  const windows: FakeBrowserWindow[] = [];
  const trays: FakeTray[] = [];
  const dialogs: Array<{ message: string; detail?: string; buttons?: string[] }> = [];
  const exposed = new Map<FakeWebContents, Record<string, unknown>>();
  const state = {
    lockAvailable: true,
    quitCalls: 0,
    sandboxEnabled: false,
    applicationMenu: undefined as { template: unknown[] } | undefined,
    /** The button dialog.showMessageBox answers with (1: "Not now"). */
    dialogResponse: 1,
    beforeRequest: undefined as undefined | ((d: { url: string }, cb: (r: { cancel?: boolean }) => void) => void),
    headersReceived: undefined as undefined | ((d: { url: string; resourceType: string; responseHeaders?: Record<string, string[]> }, cb: (r: unknown) => void) => void),
    permissionRequest: undefined as undefined | ((wc: unknown, permission: string, cb: (ok: boolean) => void) => void),
    permissionCheck: undefined as undefined | (() => boolean),
  };

  class App extends EventEmitter {
    isPackaged = false;
    requestSingleInstanceLock(): boolean {
      return state.lockAvailable;
    }
    quit(): void {
      state.quitCalls++;
      this.emit('before-quit', { preventDefault() {} });
    }
    enableSandbox(): void {
      state.sandboxEnabled = true;
    }
    whenReady(): Promise<void> {
      return Promise.resolve();
    }
    getVersion(): string {
      return '0.1.0';
    }
  }
  const app = new App();

  class FakeBrowserWindow extends EventEmitter {
    readonly webContents = new FakeWebContents();
    loadedFile: string | undefined;
    visible = false;
    minimized = false;
    focusCalls = 0;
    destroyed = false;
    constructor(readonly options: { webPreferences?: Record<string, unknown> } & Record<string, unknown>) {
      super();
      windows.push(this);
      app.emit('web-contents-created', {}, this.webContents);
    }
    loadFile(path: string): Promise<void> {
      this.loadedFile = path;
      this.webContents.mainFrame.url = pathToFileURL(path).href;
      setImmediate(() => {
        this.emit('ready-to-show');
        this.webContents.emit('did-finish-load');
      });
      return Promise.resolve();
    }
    show(): void {
      this.visible = true;
    }
    focus(): void {
      this.focusCalls++;
    }
    isMinimized(): boolean {
      return this.minimized;
    }
    restore(): void {
      this.minimized = false;
    }
    minimize(): void {
      this.minimized = true;
    }
    isDestroyed(): boolean {
      return this.destroyed;
    }
  }

  class FakeTray extends EventEmitter {
    image: unknown;
    tooltip = '';
    menu: { template: Array<Record<string, unknown>> } | undefined;
    destroyed = false;
    constructor(image: unknown) {
      super();
      this.image = image;
      trays.push(this);
    }
    setImage(image: unknown): void {
      this.image = image;
    }
    setToolTip(t: string): void {
      this.tooltip = t;
    }
    setContextMenu(menu: { template: Array<Record<string, unknown>> }): void {
      this.menu = menu;
    }
    isDestroyed(): boolean {
      return this.destroyed;
    }
    destroy(): void {
      this.destroyed = true;
    }
  }

  const ipcMain = {
    handle(channel: string, handler: Handler): void {
      if (handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
      handlers.set(channel, handler);
    },
    removeHandler(channel: string): void {
      handlers.delete(channel);
    },
  };

  /** The renderer side of one webContents: what its preload's require('electron') gets. */
  function rendererOf(contents: FakeWebContents, frame: () => Frame = () => contents.mainFrame) {
    const ipcRenderer = {
      async invoke(channel: string, ...args: unknown[]): Promise<unknown> {
        const h = handlers.get(channel);
        if (!h) throw new Error(`Error invoking remote method '${channel}': Error: No handler registered for '${channel}'`);
        const event = { sender: contents, senderFrame: frame(), frameId: 1, processId: 1 };
        return structuredClone(await h(event, ...structuredClone(args)));
      },
      on(channel: string, listener: RendererListener) {
        let set = contents.rendererListeners.get(channel);
        if (!set) contents.rendererListeners.set(channel, (set = new Set()));
        set.add(listener);
        return ipcRenderer;
      },
      removeListener(channel: string, listener: RendererListener) {
        contents.rendererListeners.get(channel)?.delete(listener);
        return ipcRenderer;
      },
    };
    const contextBridge = {
      exposeInMainWorld(key: string, api: unknown): void {
        const world = exposed.get(contents) ?? {};
        world[key] = api;
        exposed.set(contents, world);
      },
    };
    return { ipcRenderer, contextBridge };
  }

  /**
   * Runs the built preload (dist/electron/preload.cjs) for `contents` as Electron's
   * sandbox does: a plain script in a fresh context whose require knows only 'electron'.
   * Returns what it exposed on window.
   */
  function runPreload(file: string, contents: FakeWebContents, frame?: () => Frame): Record<string, unknown> {
    const renderer = rendererOf(contents, frame);
    const sandboxRequire = (name: string) => {
      if (name === 'electron') return renderer;
      throw new Error(`module not found: ${name}`);
    };
    const module = { exports: {} };
    const wrapper = runInNewContext(`(function (require, exports, module) {${readFileSync(file, 'utf8')}\n})`, { console, queueMicrotask }, { filename: file });
    (wrapper as (r: unknown, e: unknown, m: unknown) => void)(sandboxRequire, module.exports, module);
    return exposed.get(contents) ?? {};
  }

  const electron = {
    app,
    BrowserWindow: FakeBrowserWindow,
    ipcMain,
    Tray: FakeTray,
    Menu: {
      buildFromTemplate: (template: unknown[]) => ({ template }),
      setApplicationMenu: (menu: { template: unknown[] }) => void (state.applicationMenu = menu),
    },
    nativeImage: { createFromPath: (path: string) => ({ path }) },
    session: {
      defaultSession: {
        webRequest: {
          onBeforeRequest: (l: typeof state.beforeRequest) => void (state.beforeRequest = l),
          onHeadersReceived: (l: typeof state.headersReceived) => void (state.headersReceived = l),
        },
        setPermissionRequestHandler: (h: typeof state.permissionRequest) => void (state.permissionRequest = h),
        setPermissionCheckHandler: (h: typeof state.permissionCheck) => void (state.permissionCheck = h),
      },
    },
    dialog: {
      showMessageBox: async (_win: unknown, options: { message: string; detail?: string; buttons?: string[] }) => {
        dialogs.push(options);
        return { response: state.dialogResponse, checkboxChecked: false };
      },
    },
  };

  return { electron, state, windows, trays, dialogs, handlers, runPreload, FakeWebContents };
}

export type ElectronStandIn = ReturnType<typeof makeElectronStandIn>;
