import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotReadyError, OverloadedError, ValidationError } from '../runtime/errors.js';
import { ApiError, toApiError } from './errors.js';

test('engine admission errors map to their HTTP status by class', () => {
  const overloaded = toApiError(new OverloadedError('The server is at its limit.', 2.2, 'max_concurrent_requests'));
  assert.equal(overloaded.status, 429);
  assert.equal(overloaded.headers['Retry-After'], '3', 'whole seconds, rounded up');
  assert.equal(overloaded.code, 'overloaded');
  assert.equal(overloaded.reason, 'max_concurrent_requests', 'the limit hit labels the rejection metric');
  assert.equal(toApiError(new OverloadedError('busy', 0, 'max_queued_tokens')).headers['Retry-After'], '1', 'never 0');
  assert.equal(toApiError(new NotReadyError('loading')).status, 503);
  const invalid = toApiError(new ValidationError('prompt too long', 'messages'));
  assert.equal(invalid.status, 400);
  assert.equal(invalid.param, 'messages');
});

test('anything else is a 500 that still says what failed', () => {
  const internal = toApiError(new TypeError('x is undefined'));
  assert.equal(internal.status, 500);
  assert.equal(internal.type, 'server_error');
  assert.match(internal.message, /x is undefined/);
  assert.equal(toApiError('plain string').status, 500);
});

test("OpenAI's error body shape", () => {
  const body = new ApiError(404, 'no such model', { param: 'model', code: 'model_not_found' }).toBody();
  assert.deepEqual(body, { error: { message: 'no such model', type: 'not_found_error', param: 'model', code: 'model_not_found' } });
});
