// The Models view's backend against a local fake Hub (test/fixtures/fakeHub.ts) serving a
// generated checkpoint: search, fit check, pull with progress events, library, serve by library
// name, delete (refused while served).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdminError, DeleteModelResponse, FitVerdict, HubSearchResponse, LibraryResponse, PullListResponse, PullStarted, ServeStatus } from '../common/adminApi.js';
import { startFakeHub, type FakeHub } from '../../test/fixtures/fakeHub.js';
import { ensureFixtureCheckpoint } from '../../test/fixtures/packages.js';
import { pollUntil } from '../../test/fixtures/poll.js';
import { startHost, type RunningHost } from './host.js';

const TOKEN = 'hub-test-token-0123456789';
const REPO = 'fixture-org/tiny-llama';
const STOPPED_REPO = 'fixture-org/stopped-pull';
let hub: FakeHub;
let host: RunningHost;
let home: string;

async function api<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const response = await fetch(`${host.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${TOKEN}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });
  return { status: response.status, body: (await response.json()) as T };
}

before(async () => {
  const { checkpointDir } = await ensureFixtureCheckpoint({ arch: 'llama' });
  hub = await startFakeHub({
    repos: [
      { id: REPO, files: checkpointDir, downloads: 42, likes: 3, tags: ['llama', 'text-generation'], safetensorsParameters: { F32: 140_000 } },
      // The same files under another repo, so nothing of it is in the HF cache when the cancel test downloads it.
      { id: STOPPED_REPO, files: checkpointDir },
    ],
  });
  home = mkdtempSync(join(tmpdir(), 'hearth-host-hub-'));
  host = await startHost({
    token: TOKEN,
    port: 0,
    rendererDir: null,
    env: { PATH: process.env.PATH, HEARTH_HOME: home, HF_ENDPOINT: hub.url, HF_HUB_CACHE: join(home, 'hf-cache') },
    dashboardIntervalMs: 500,
    log: () => {},
  });
});

after(async () => {
  await host?.close(1000);
  await hub?.close();
  rmSync(home, { recursive: true, force: true });
});

test('search, fit, pull, list, serve by name, delete', async () => {
  const search = await api<HubSearchResponse>('/api/hub/search?q=tiny');
  assert.equal(search.status, 200);
  assert.deepEqual(search.body.results.map((result) => result.repo), [REPO]);
  assert.equal(search.body.results[0]!.architecture, 'llama');

  const fit = await api<FitVerdict>(`/api/hub/fit?repo=${REPO}&dtype=fp32`);
  assert.equal(fit.status, 200);
  assert.equal(fit.body.verdict, 'fits');
  assert.ok((fit.body.weightsBytes ?? 0) > 0);
  assert.ok((fit.body.downloadBytes ?? 0) > 0);

  assert.equal((await api<AdminError>('/api/hub/pull', { method: 'POST', body: JSON.stringify({ repo: 'not a repo' }) })).status, 400);
  const started = await api<PullStarted>('/api/hub/pull', { method: 'POST', body: JSON.stringify({ repo: REPO, dtype: 'fp32' }) });
  assert.equal(started.status, 202);
  let pull;
  pull = await waitForPull(started.body.jobId, (p) => p.phase === 'done' || p.phase === 'failed');
  assert.equal(pull?.phase, 'done', pull?.error);
  assert.equal(pull?.name, 'tiny-llama');

  const library = await api<LibraryResponse>('/api/library');
  assert.equal(library.body.models.length, 1);
  const model = library.body.models[0]!;
  assert.equal(model.name, 'tiny-llama');
  assert.equal(model.repo, REPO);
  assert.deepEqual(model.variants.map((variant) => variant.dtype), ['fp32']);
  assert.ok(model.totalBytes > 0);

  const served = await api<ServeStatus>('/api/serve/start', { method: 'POST', body: JSON.stringify({ settings: { model: 'tiny-llama', device: 'cpu', port: 0 } }) });
  assert.equal(served.body.state, 'ready', served.body.error ?? '');
  assert.equal(served.body.manifest?.dtype, 'fp32');
  const wrongVariant = await api<ServeStatus>('/api/serve/reload', { method: 'POST', body: JSON.stringify({ settings: { model: 'tiny-llama', dtype: 'int4', device: 'cpu', port: 0 } }) });
  assert.equal(wrongVariant.body.state, 'failed');
  assert.match(wrongVariant.body.error ?? '', /no ready int4 variant/);
  await api<ServeStatus>('/api/serve/start', { method: 'POST', body: JSON.stringify({ settings: { model: 'tiny-llama', device: 'cpu', port: 0 } }) });

  // A second variant of the same model (converted while fp32 is served), for the per-variant delete below.
  const second = await api<PullStarted>('/api/hub/pull', { method: 'POST', body: JSON.stringify({ repo: REPO, dtype: 'int4' }) });
  assert.equal(second.status, 202);
  pull = await waitForPull(second.body.jobId, (p) => p.phase === 'done' || p.phase === 'failed');
  assert.equal(pull?.phase, 'done', pull?.error);
  const twoVariants = (await api<LibraryResponse>('/api/library')).body.models[0]!;
  assert.deepEqual(twoVariants.variants.map((variant) => variant.dtype).sort(), ['fp32', 'int4']);
  const int4Dir = twoVariants.variants.find((variant) => variant.dtype === 'int4')!.packageDir;

  const refused = await api<AdminError>('/api/library/tiny-llama', { method: 'DELETE' });
  assert.equal(refused.status, 409);
  assert.match(refused.body.error.message, /Stop serving it/);

  // One variant: the served one (fp32) is refused; the other goes while fp32 keeps serving.
  const servedVariant = await api<AdminError>('/api/library/tiny-llama?dtype=fp32', { method: 'DELETE' });
  assert.equal(servedVariant.status, 409);
  assert.match(servedVariant.body.error.message, /fp32 variant of 'tiny-llama' is being served \(pid \d+\)/);
  assert.equal((await api<AdminError>('/api/library/tiny-llama?dtype=fp16', { method: 'DELETE' })).status, 404);
  assert.equal((await api<AdminError>('/api/library/tiny-llama?dtype=int8', { method: 'DELETE' })).status, 400);
  const removedVariant = await api<DeleteModelResponse>('/api/library/tiny-llama?dtype=int4', { method: 'DELETE' });
  assert.equal(removedVariant.status, 200, JSON.stringify(removedVariant.body));
  assert.deepEqual([removedVariant.body.removed.name, removedVariant.body.removed.dtype], ['tiny-llama', 'int4']);
  assert.ok(removedVariant.body.removed.bytesFreed > 0);
  assert.ok(!existsSync(int4Dir), 'the int4 package folder is gone');
  assert.deepEqual((await api<LibraryResponse>('/api/library')).body.models[0]!.variants.map((variant) => variant.dtype), ['fp32']);
  assert.equal((await api<ServeStatus>('/api/serve')).body.state, 'ready', 'still serving fp32');
  await api<ServeStatus>('/api/serve/stop', { method: 'POST' });
  const removed = await api<DeleteModelResponse>('/api/library/tiny-llama', { method: 'DELETE' });
  assert.equal(removed.status, 200);
  assert.ok(removed.body.removed.bytesFreed > 0);
  assert.equal((await api<LibraryResponse>('/api/library')).body.models.length, 0);
  assert.equal((await api<AdminError>('/api/library/tiny-llama', { method: 'DELETE' })).status, 404);
});

/** Polls the pull list until `job` satisfies `done` (the list updates as progress events arrive). */
async function waitForPull(jobId: string, done: (pull: PullListResponse['pulls'][number]) => boolean) {
  return pollUntil(`pull ${jobId}`, async () => (await api<PullListResponse>('/api/hub/pulls')).body.pulls.find((p) => p.jobId === jobId), (pull): pull is PullListResponse['pulls'][number] => pull !== undefined && done(pull), { intervalMs: 50 });
}

test('a download stopped from the UI ends as cancelled and resumes from its bytes when pulled again', async () => {
  const kept = 4096;
  // The hub sends the first 4 KiB of the weights and then holds the connection open: the pull is mid-download until it is stopped.
  hub.stallNext('model.safetensors', kept);
  const started = await api<PullStarted>('/api/hub/pull', { method: 'POST', body: JSON.stringify({ repo: STOPPED_REPO, dtype: 'fp32', name: 'stopped-llama' }) });
  assert.equal(started.status, 202);
  await waitForPull(started.body.jobId, (pull) => pull.phase === 'downloading' && pull.bytesDone >= kept);
  const cancelled = await api<PullListResponse['pulls'][number]>(`/api/hub/pulls/${started.body.jobId}/cancel`, { method: 'POST' });
  assert.equal(cancelled.status, 200);
  const stopped = await waitForPull(started.body.jobId, (pull) => pull.phase !== 'downloading');
  assert.equal(stopped.phase, 'cancelled');
  assert.match(stopped.detail ?? '', /resume from the bytes on disk/);
  assert.equal((await api<AdminError>('/api/hub/pulls/nope/cancel', { method: 'POST' })).status, 404);

  const transfersBefore = hub.requests.length;
  const again = await api<PullStarted>('/api/hub/pull', { method: 'POST', body: JSON.stringify({ repo: STOPPED_REPO, dtype: 'fp32', name: 'stopped-llama' }) });
  const finished = await waitForPull(again.body.jobId, (pull) => pull.phase === 'done' || pull.phase === 'failed');
  assert.equal(finished.phase, 'done', finished.error);
  const resumed = hub.requests.slice(transfersBefore).filter((request) => request.file === 'model.safetensors' && request.bodyBytes > 0);
  assert.deepEqual(resumed.map((request) => request.range), [`bytes=${kept}-`], 'the weights resumed where the stopped download left off');
  assert.equal((await api<DeleteModelResponse>('/api/library/stopped-llama', { method: 'DELETE' })).status, 200);
});
