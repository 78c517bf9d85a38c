// Errors the API answers with, in OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
// Engine admission errors (engine/runtime/errors.ts) map here by class, so a handler just throws.
import { NotReadyError, OverloadedError, ValidationError } from '../runtime/errors.js';

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  404: 'not_found_error',
  405: 'invalid_request_error',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  429: 'rate_limit_error',
  500: 'server_error',
  503: 'service_unavailable',
};

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  /** Extra response headers, e.g. Retry-After. */
  readonly headers: Record<string, string>;
  /** Why the request was refused, for hearth_requests_rejected_total; default `code`. */
  readonly reason: string | null;

  constructor(
    readonly status: number,
    message: string,
    options: { type?: string; param?: string | null; code?: string | null; headers?: Record<string, string>; reason?: string } = {},
  ) {
    super(message);
    this.type = options.type ?? TYPE_BY_STATUS[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
    this.param = options.param ?? null;
    this.code = options.code ?? null;
    this.headers = options.headers ?? {};
    this.reason = options.reason ?? this.code;
  }

  toBody(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new ApiError(400, message, { param, code });

/**
 * The engine step that ran this request failed (e.g. an ONNX run error): an internal fault, 500.
 * The engine fails only the requests in that step and keeps serving, so the message says so.
 */
export function generationFailed(engineMessage: string | undefined): ApiError {
  const detail = (engineMessage ?? 'unknown engine error').replace(/\.$/, '');
  return new ApiError(
    500,
    `Generation failed: ${detail}. Only this request failed; the server keeps serving, so retry it ` +
      `(a fault that repeats for the same prompt is a bug in Hearth or in the model package).`,
    { code: 'generation_failed' },
  );
}

/** Any thrown value → the ApiError to answer with. Unknown errors are internal faults (500). */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof OverloadedError) {
    const retryAfterSeconds = Math.max(1, Math.ceil(error.retryAfterSeconds));
    return new ApiError(429, error.message, {
      code: 'overloaded',
      reason: error.reason,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }
  if (error instanceof NotReadyError) {
    return new ApiError(503, error.message, { code: 'not_ready', headers: { 'Retry-After': '1' } });
  }
  if (error instanceof ValidationError) return badRequest(error.message, error.param);
  const message = error instanceof Error ? error.message : String(error);
  return new ApiError(500, `Internal error: ${message}. This is a bug in Hearth if it persists; the server keeps running.`, {
    code: 'internal_error',
  });
}
