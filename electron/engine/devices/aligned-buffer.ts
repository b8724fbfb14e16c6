/** Node has WebAssembly; the project's type libraries do not declare it. */
const wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly;
const WASM_PAGE = 64 * 1024;

/** What O_DIRECT asks of offsets, lengths and memory (the largest logical block size in use). */
export const DIRECT_ALIGN = 4096;

/**
 * A page-aligned buffer, as O_DIRECT reads and writes need. Node's Buffers do not promise
 * alignment; WebAssembly memory is mapped whole pages, so a Buffer over it is page-aligned.
 */
export function alignedBuffer(size: number): Buffer {
  return Buffer.from(new wasm.Memory({ initial: Math.ceil(size / WASM_PAGE) }).buffer).subarray(0, size);
}
