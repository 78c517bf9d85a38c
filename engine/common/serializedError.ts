// Errors cross process and thread boundaries as {name, message, stack} and are re-raised on the
// other side as real Errors (STYLE.md: contracts between processes).
import type { SerializedError } from './engineApi.js';

/** Serializes an error so it can cross a process or thread boundary. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}

/** Re-raises a serialized error as a real Error on this side, keeping the remote stack. */
export function deserializeError(serialized: SerializedError): Error {
  const error = new Error(serialized.message);
  error.name = serialized.name;
  if (serialized.stack) error.stack = serialized.stack;
  return error;
}
