import type { RequestLogFilter } from '../../../engine/common/requestLog.js';

/** A request-log filter as a query string ('' when empty), skipping unset and empty values. */
export function filterQuery(filter: RequestLogFilter): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filter)) if (value !== undefined && value !== '') query.set(key, String(value));
  const text = query.toString();
  return text ? `?${text}` : '';
}
