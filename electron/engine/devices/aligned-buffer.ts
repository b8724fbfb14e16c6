/** Node has WebAssembly; the project's type libraries do not declare it. */
const wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => { buffer: ArrayBuffer | SharedArrayBuffer } } }).WebAssembly;
const WASM_PAGE = 64 * 1024;

/** What O_DIRECT asks of offsets, lengths and memory (the largest logical block size in use). */
export const DIRECT_ALIGN = 4096;

/**
 * A page-aligned buffer, as O_DIRECT reads and writes need. Node's Buffers do not promise
 * alignment; WebAssembly memory is mapped whole pages, so a Buffer over it is page-aligned.
 * `shared` memory is a SharedArrayBuffer that worker threads can read in place.
 */
export function alignedBuffer(size: number, shared = false): Buffer {
  const pages = Math.ceil(size / WASM_PAGE);
  const memory = shared ? new wasm.Memory({ initial: pages, maximum: pages, shared: true }) : new wasm.Memory({ initial: pages });
  return Buffer.from(memory.buffer).subarray(0, size);
}
