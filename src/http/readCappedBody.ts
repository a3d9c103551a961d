/**
 * Reads a response body with a size limit.
 *
 * @module
 */

import { DeviceFlowError } from '../core/errors.js';

/**
 * All bytes of `body`, or a `ServerError` as soon as it grows past `maxBytes`; the stream is then cancelled, which
 * closes the connection instead of draining it.
 */
export async function readCappedBody(body: ReadableStream<Uint8Array> | null, maxBytes: number, status?: number): Promise<Uint8Array> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw bodyTooLarge(maxBytes, status);
    }
    chunks.push(value);
  }
  return concat(chunks, size);
}

/** The error for a response body over `maxBytes`. */
export function bodyTooLarge(maxBytes: number, status?: number): DeviceFlowError {
  return new DeviceFlowError('ServerError', `The server sent a response body larger than ${maxBytes} bytes`, { status });
}

/** `chunks`, `size` bytes in all, as one array. */
export function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
