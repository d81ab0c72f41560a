/**
 * Moving bytes between threads: a view can be transferred only if it is the whole of an
 * ArrayBuffer of its own (a pooled Buffer's memory is shared with other Buffers, and shared
 * memory is never transferred, only shared).
 */
export function ownsBuffer(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
}

/** The buffers of these views that can be moved; the others are copied by postMessage. */
export function movable(views: Uint8Array[]): ArrayBuffer[] {
  return views.filter(ownsBuffer).map((v) => v.buffer as ArrayBuffer);
}

/** A view that can be moved: itself if it owns its buffer, else a copy that does. */
export function owned(bytes: Uint8Array): Uint8Array {
  return ownsBuffer(bytes) ? bytes : new Uint8Array(bytes);
}

/** Bytes (a worker's result, a moved input) as a Buffer over the same memory, never a copy. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
