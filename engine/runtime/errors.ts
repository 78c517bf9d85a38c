// Errors the engine throws at admission. The HTTP layer maps them by class:
// OverloadedError → 429 (Retry-After), NotReadyError → 503, ValidationError → 400.

/** Which admission limit refused a request (a metrics label: hearth_requests_rejected_total). */
export type OverloadReason = 'max_concurrent_requests' | 'max_queued_tokens';

/** Too much work admitted already; the client should retry later. */
export class OverloadedError extends Error {
  override readonly name = 'OverloadedError';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    readonly reason: OverloadReason,
  ) {
    super(message);
  }
}

/** The model is still loading (or failed to load, or the engine is stopping). */
export class NotReadyError extends Error {
  override readonly name = 'NotReadyError';
  constructor(message: string) {
    super(message);
  }
}

/** The request cannot be served as asked (prompt too long, prompt + max tokens beyond the context). */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(message: string, readonly param: string | null = null) {
    super(message);
  }
}

/** The batching/serving config is invalid for this model or machine. */
export class EngineConfigError extends Error {
  override readonly name = 'EngineConfigError';
  constructor(message: string) {
    super(message);
  }
}

export { serializeError, deserializeError } from '../common/serializedError.js';
