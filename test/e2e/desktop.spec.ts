// The desktop UI, driven like a user in Chromium against the real engine host and a generated
// fixture model: find and download a model, serve it, chat (streamed), watch the dashboard move,
// find the requests (and an error's message) in the log, benchmark, export; stop a reply, cancel and
// resume a download, reopen a conversation after a host restart. Tests that save a screenshot of
// their view write it to docs/screenshots/<view>.png.
//
// No test depends on another or on their order (each runs alone: `npx playwright test -g <title>`).
// A test sets up what it needs on the suites' shared host (ensureServing, ensureInLibrary), leaves
// the host's library as it found it, and finds its own rows by a marker of its own; one that needs
// an empty library or restarts the host gets a host of its own (ownHost).
import { expect, test, type Page } from '@playwright/test';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PullListResponse, RequestListResponse, ServeStatus } from '../../engine/common/adminApi.js';
import type { RequestLogEntry } from '../../engine/common/requestLog.js';
import type { RequestRecord } from '../fixtures/fakeHub.js';
import { startEngineHost } from './engineHost.js';

const SHOTS = join(process.cwd(), 'docs', 'screenshots');
const env = (name: string) => process.env[name] ?? '';

test.skip(() => Boolean(process.env.HEARTH_E2E_SKIP), `SKIP: ${process.env.HEARTH_E2E_SKIP}`);

/** An engine host's admin URL and token: the suites' shared one (globalSetup's) unless a test has its own. */
interface HostRef {
  url: string;
  token: string;
}
const sharedHost = (): HostRef => ({ url: env('HEARTH_E2E_URL'), token: env('HEARTH_E2E_TOKEN') });

async function open(page: Page, view: string, host = sharedHost()): Promise<void> {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${host.url}/#token=${host.token}`);
  await page.getByTestId(`nav-${view}`).click();
  await expect(page.getByTestId(`view-${view}`)).toBeVisible();
  expect(errors, 'no uncaught errors in the page').toEqual([]);
}

const shot = (page: Page, view: string) => page.screenshot({ path: join(SHOTS, `${view}.png`), fullPage: true });

/** The engine host's admin API, as the renderer calls it (the suites' shared host unless told another). */
async function admin<T>(path: string, init: { method?: string; body?: unknown } = {}, host = sharedHost()): Promise<T> {
  const response = await fetch(`${host.url}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${host.token}`, 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/**
 * Each test that needs a served model sets it up itself (through the admin API, as the Models and
 * Serve views do): the fixture model from the library, on the CPU, whatever an earlier test served.
 */
async function ensureServing(host = sharedHost()): Promise<void> {
  const serving = await admin<ServeStatus>('/api/serve', {}, host);
  if (serving.state === 'ready' && serving.settings?.model === 'tiny-llama' && serving.settings.device === 'cpu') return;
  await ensureInLibrary(host);
  const route = serving.state === 'ready' ? '/api/serve/reload' : '/api/serve/start';
  const started = await admin<ServeStatus>(route, { method: 'POST', body: { settings: { model: 'tiny-llama', device: 'cpu', port: 0 } } }, host);
  expect(started.state, started.error ?? '').toBe('ready');
}

/** The fixture model in the library (downloaded from the fake Hub, as the Models view does). */
async function ensureInLibrary(host = sharedHost()): Promise<void> {
  const library = await admin<{ models: Array<{ name: string; variants: Array<{ dtype: string }> }> }>('/api/library', {}, host);
  if (!library.models.some((model) => model.name === 'tiny-llama' && model.variants.some((variant) => variant.dtype === 'fp32'))) {
    const { jobId } = await admin<{ jobId: string }>('/api/hub/pull', { method: 'POST', body: { repo: env('HEARTH_E2E_REPO'), dtype: 'fp32' } }, host);
    await expect.poll(async () => (await admin<PullListResponse>('/api/hub/pulls', {}, host)).pulls.find((pull) => pull.jobId === jobId)?.phase, { timeout: 60_000 })
      .toBe('done');
  }
}

interface OwnHost extends HostRef {
  /** Stops the host and starts it again on the same HEARTH_HOME (so the same SQLite file) and port (so the page's URL stays valid). */
  restart(): Promise<void>;
  /** Stops it and deletes its HEARTH_HOME. */
  close(): Promise<void>;
}

/**
 * A host of the test's own, with its own HEARTH_HOME (database, library, HF cache) and the suites'
 * fake Hub: for a test that needs an empty library or restarts the host, and so must not share one.
 */
async function ownHost(name: string): Promise<OwnHost> {
  const home = mkdtempSync(join(tmpdir(), `hearth-e2e-${name}-`));
  const token = `e2e-${name}-${Math.random().toString(36).slice(2)}-admin-token`; // the host wants 16 characters or more
  const options = { home, token, rendererDir: env('HEARTH_E2E_RENDERER_DIR'), env: { HF_ENDPOINT: env('HEARTH_E2E_HUB'), HF_HUB_CACHE: join(home, 'hf-cache'), HF_TOKEN: '' } };
  let host = await startEngineHost({ ...options, port: 0 });
  return {
    url: host.url,
    token,
    restart: async () => {
      await host.stop();
      host = await startEngineHost({ ...options, port: host.port });
    },
    close: async () => {
      await host.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/**
 * The Serve view's saved settings as a user who served on the CPU at a free port left them: what
 * the Models view's and the playground's one-click serving starts with (else port 8000, which
 * another host on this machine may hold).
 */
const serveSettingsOfThisMachine = (page: Page) =>
  page.addInitScript(`localStorage.setItem('hearth.serve.settings', ${JSON.stringify(JSON.stringify({ device: 'cpu', port: 0 }))})`);

/**
 * The playground has no EOS switch; the API does (ignore_eos). The random fixture models end some
 * replies at their first token (a CI run saw "1 tokens" and an empty reply), so a test that needs
 * text adds it to the playground's requests.
 */
const ignoreEos = (page: Page) =>
  page.route('**/api/proxy/v1/chat/completions', (route) =>
    route.continue({ postData: JSON.stringify({ ...(route.request().postDataJSON() as object), ignore_eos: true }) }));

const KV_CACHE_BYTES = 64 * 2 ** 20; // the fixtures need a few MiB (the default takes a share of RAM)

/**
 * Serves `model` (a library name or a package folder) for the length of `body`, then serves again
 * what was served before: the shared host as the test found it.
 */
async function whileServing(model: string, body: () => Promise<void>): Promise<void> {
  const before = await admin<ServeStatus>('/api/serve');
  const started = await admin<ServeStatus>('/api/serve/reload', { method: 'POST', body: { settings: { model, device: 'cpu', port: 0, kvCacheBytes: KV_CACHE_BYTES } } });
  expect(started.state, started.error ?? '').toBe('ready');
  try {
    await body();
  } finally {
    if (before.state === 'ready') await admin('/api/serve/reload', { method: 'POST', body: { settings: before.settings } });
    else await admin('/api/serve/stop', { method: 'POST' });
  }
}

/** The fake Hub's test controls (test/fixtures/fakeHub.ts): it runs in globalSetup's process, not this one. */
async function hubControl<T = void>(method: 'GET' | 'POST', path: string): Promise<T> {
  const response = await fetch(`${env('HEARTH_E2E_HUB')}/_test/${path}`, { method });
  if (!response.ok) throw new Error(`fake hub ${method} ${path}: ${response.status} ${await response.text()}`);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

/** Calls the served model through the host's proxy (the playground's path), outside the UI. */
async function chat(maxTokens: number, content: string): Promise<Response> {
  return fetch(`${env('HEARTH_E2E_URL')}/api/proxy/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env('HEARTH_E2E_TOKEN')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tiny-llama', messages: [{ role: 'user', content }], max_tokens: maxTokens, ignore_eos: true }),
  });
}

test('models: search the Hub, check fit, download, and see it in the library', async ({ page }) => {
  // A first run: a host of its own, with an empty library and nothing downloaded.
  const host = await ownHost('first-run');
  try {
    await open(page, 'models', host);
    await expect(page.getByTestId('library').getByTestId('empty-state')).toContainText('No models yet');
    await page.getByLabel('Search the Hub').fill('tiny');
    await page.getByRole('button', { name: 'Search' }).click();
    const row = page.getByRole('row', { name: new RegExp(env('HEARTH_E2E_REPO')) });
    await expect(row).toBeVisible();
    await row.getByLabel('Variant').selectOption('fp32');
    await row.getByRole('button', { name: 'Check fit' }).click();
    await expect(row.locator('.fit')).toContainText('fits');
    await row.getByRole('button', { name: 'Download' }).click();
    await expect(page.getByTestId('downloads')).toContainText('done', { timeout: 60_000 });
    await expect(page.getByTestId('library')).toContainText('tiny-llama');
    await expect(page.getByTestId('library')).toContainText('fp32');
    await shot(page, 'models');
  } finally {
    await host.close();
  }
});

test('models: import a checkpoint folder from disk, see it in the library, and chat with it', async ({ page }) => {
  await ensureInLibrary(); // the picture shows the imported model beside a pulled one
  await open(page, 'models');
  await page.getByTestId('import-path').fill(env('HEARTH_E2E_CHECKPOINT'));
  await page.getByTestId('import-name').fill('my-finetune');
  await page.getByTestId('import-dtype').selectOption('fp32');
  await page.getByTestId('import-run').click();
  await expect(page.getByTestId('downloads')).toContainText(env('HEARTH_E2E_CHECKPOINT'));
  await expect(page.getByTestId('library-source-my-finetune')).toContainText(`imported from ${env('HEARTH_E2E_CHECKPOINT')}`, { timeout: 60_000 });
  try {
    await shot(page, 'models-import');
    // It serves by name like a pulled model (the Serve view's path, through the admin API), and answers.
    await whileServing('my-finetune', async () => {
      const response = await fetch(`${env('HEARTH_E2E_URL')}/api/proxy/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env('HEARTH_E2E_TOKEN')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'my-finetune', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }),
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { model: string }).model).toBe('my-finetune');
    });
  } finally {
    // The library as this test found it (deleting the package, never the checkpoint folder).
    await admin('/api/library/my-finetune', { method: 'DELETE' });
  }
});

test('models: in the desktop app Browse… fills the checkpoint folder from the OS picker; the web UI has only the path field', async ({ page }) => {
  await open(page, 'models');
  await expect(page.getByTestId('import-path')).toBeVisible();
  await expect(page.getByTestId('import-browse'), 'a browser cannot hand a page a folder path').toHaveCount(0);

  // The preload's surface (window.hearthDesktop, electron/preload.ts), answered by this test where
  // Electron's main process would: the host's address, and the picker's answers in turn (closed, then a folder).
  const folder = env('HEARTH_E2E_CHECKPOINT');
  await page.addInitScript(`(() => {
    const answers = [null, ${JSON.stringify(folder)}];
    window.pickFolderCalls = [];
    window.hearthDesktop = {
      platform: 'linux',
      getHostInfo: async () => (${JSON.stringify({ url: env('HEARTH_E2E_URL'), token: env('HEARTH_E2E_TOKEN') })}),
      onHostStatus: (listener) => { listener({ state: 'ready', url: ${JSON.stringify(env('HEARTH_E2E_URL'))} }); return () => {}; },
      installCudaProvider: async () => ({ ok: false, exitCode: null, log: '', message: 'not in this test' }),
      openExternal: async () => {},
      pickFolder: async (options) => { window.pickFolderCalls.push(options); return answers.shift() ?? null; },
    };
  })()`);
  await page.goto(env('HEARTH_E2E_URL')); // no #token: in the app the bridge hands it over
  await expect(page.getByTestId('view-models')).toBeVisible();
  const browse = page.getByTestId('import-browse');
  await expect(browse).toHaveText('Browse…');
  await browse.click(); // the user closes the picker: the field stays as it was
  await expect.poll(() => page.evaluate('window.pickFolderCalls.length')).toBe(1);
  await expect(page.getByTestId('import-path')).toHaveValue('');
  await browse.click();
  await expect(page.getByTestId('import-path')).toHaveValue(folder);
  await expect(page.getByTestId('import-run')).toBeEnabled();
  expect(await page.evaluate('window.pickFolderCalls')).toEqual([
    { title: 'Import local checkpoint', buttonLabel: 'Import' },
    { title: 'Import local checkpoint', buttonLabel: 'Import' },
  ]);
});

test('models: a download cancelled mid-transfer stays resumable, and downloading again resumes from its bytes', async ({ page }) => {
  const repo = env('HEARTH_E2E_RESUME_REPO');
  const name = repo.split('/')[1]!;
  const weights = 'model.safetensors';
  const weightsBytes = statSync(join(env('HEARTH_E2E_CHECKPOINT'), weights)).size;
  const kept = 4096;
  // A host of its own: its HF cache holds nothing of the repo, however often the test runs.
  const host = await ownHost('resume');
  // The hub sends the first 4 KiB of the weights, then holds the connection open: the download
  // sits mid-transfer until it is cancelled, however fast this machine is.
  await hubControl('POST', `stall?path=${weights}&afterBytes=${kept}`);
  const requestsBefore = (await hubControl<RequestRecord[]>('GET', 'requests')).length;
  try {
    await open(page, 'models', host);
    await page.getByLabel('Search the Hub').fill(name);
    await page.getByRole('button', { name: 'Search' }).click();
    const row = page.getByRole('row', { name: new RegExp(repo) });
    await row.getByLabel('Variant').selectOption('fp32');
    await row.getByRole('button', { name: 'Download' }).click();

    const downloads = page.getByTestId('downloads').locator('li').filter({ hasText: repo });
    const first = downloads.first();
    await expect(first).toContainText('downloading');
    // Everything but the weights' remainder is on disk (the stall holds the rest back): the pull
    // has written the bytes it will resume from.
    await expect.poll(async () => {
      const pull = (await admin<PullListResponse>('/api/hub/pulls', {}, host)).pulls.find((p) => p.repo === repo);
      return pull && pull.bytesTotal !== null ? pull.bytesTotal - pull.bytesDone : null;
    }, { timeout: 30_000 }).toBe(weightsBytes - kept);
    await expect(first.getByRole('progressbar')).toHaveAttribute('aria-valuenow', /^[1-9]\d*$/);
    await expect(first).toContainText(/ of /);
    await first.getByTestId('pull-cancel').click();
    await expect(first.locator('.badge')).toHaveText('cancelled');
    await expect(first).toContainText('resume from the bytes on disk');
    await expect(first.getByTestId('pull-cancel')).toHaveCount(0);
    await hubControl('POST', 'release');

    await row.getByRole('button', { name: 'Download' }).click();
    await expect(downloads).toHaveCount(2);
    await expect(downloads.nth(1).locator('.badge')).toHaveText('done', { timeout: 60_000 });
    await expect(page.getByTestId('library')).toContainText(name);
    const transfers = (await hubControl<RequestRecord[]>('GET', 'requests')).slice(requestsBefore).filter((request) => request.file === weights && request.bodyBytes > 0);
    expect(transfers.map((request) => [request.range, request.bodyBytes]), 'the stalled transfer, then the rest from where it stopped').toEqual([
      [undefined, kept],
      [`bytes=${kept}-`, weightsBytes - kept],
    ]);
  } finally {
    await hubControl('POST', 'release');
    await host.close();
  }
});

test('three actions from the start page to a streamed reply: Chat on a library model, type, Enter', async ({ page }) => {
  await ensureInLibrary();
  await admin('/api/serve/stop', { method: 'POST' }); // so that Chat has to load it
  await serveSettingsOfThisMachine(page);
  await ignoreEos(page);
  await page.goto(`${env('HEARTH_E2E_URL')}/#token=${env('HEARTH_E2E_TOKEN')}`);
  await expect(page.getByTestId('view-models')).toBeVisible(); // the start page
  const actions: string[] = [];
  await page.getByTestId('chat-with-tiny-llama').click();
  actions.push('click Chat');
  await expect(page.getByTestId('chat-input')).toBeFocused({ timeout: 60_000 });
  await page.keyboard.type('Hello there');
  actions.push('type');
  await page.keyboard.press('Enter');
  actions.push('Enter');
  await expect(page.getByTestId('msg-user').locator('.bubble-text')).toHaveText('Hello there');
  await expect(page.getByTestId('msg-timings').last()).toBeVisible({ timeout: 60_000 });
  expect((await page.getByTestId('msg-assistant').last().textContent())?.trim().length ?? 0).toBeGreaterThan(0);
  expect(actions.length, actions.join(', ')).toBeLessThanOrEqual(3);
  expect((await admin<{ state: string; settings: { model: string } }>('/api/serve')).settings.model).toBe('tiny-llama');
});

test('serve: load the model and get the endpoint and snippets', async ({ page }) => {
  // Its own starting point: the model in the library, nothing served.
  await ensureInLibrary();
  await admin('/api/serve/stop', { method: 'POST' });
  await open(page, 'serve');
  await page.getByTestId('serve-model').fill('tiny-llama');
  await page.getByTestId('serve-port').fill('0');
  // The CPU int8 setting goes with the start (an fp32 model runs as stored: the engine says so).
  await page.getByTestId('serve-int8').selectOption('prompt');
  await page.getByTestId('serve-start').click();
  await expect(page.getByTestId('endpoint-url')).toHaveText(/^http:\/\/127\.0\.0\.1:\d+\/v1$/, { timeout: 30_000 });
  await expect(page.getByTestId('serve-state')).toHaveText('Serving tiny-llama');
  expect((await admin<{ settings: { cpuInt8MatMul: string } }>('/api/serve')).settings.cpuInt8MatMul).toBe('prompt');
  // And off again, by a reload (which also leaves later tests the default).
  await page.getByTestId('serve-int8').selectOption('off');
  await page.getByTestId('serve-reload').click();
  await expect.poll(async () => (await admin<{ state: string; settings: { cpuInt8MatMul: string } }>('/api/serve')).settings.cpuInt8MatMul, { timeout: 30_000 }).toBe('off');
  await expect(page.getByTestId('endpoint-url')).toHaveText(/^http:\/\/127\.0\.0\.1:\d+\/v1$/, { timeout: 30_000 });
  await expect(page.getByTestId('snippet')).toContainText('curl http://127.0.0.1:');
  await page.getByRole('button', { name: 'OpenAI SDK' }).click();
  await expect(page.getByTestId('snippet')).toContainText("import OpenAI from 'openai'");
  await shot(page, 'serve');
});

test('playground: a chat streams in, with timings; an error says what to do', async ({ page }) => {
  await ensureServing();
  await ignoreEos(page);
  await open(page, 'playground');
  // Long enough that the stream spans many network reads even on a quiet machine (64 tokens of
  // the tiny model can arrive in one read, and then nothing visibly streams).
  await page.getByTestId('max-tokens').fill('160');
  // Record every text the assistant bubble shows while it streams.
  // (A string, because this runs in the page: the test's tsconfig has no DOM types.)
  await page.evaluate(`(() => {
    const seen = [];
    window.seenTexts = seen;
    new MutationObserver(() => {
      const bubbles = document.querySelectorAll('[data-testid=msg-assistant] .bubble-text');
      const last = bubbles[bubbles.length - 1];
      // Replies render as Markdown: compare the text the model wrote, not what it renders to.
      const text = last?.getAttribute('data-source') ?? last?.textContent ?? '';
      if (text && text !== '…' && seen[seen.length - 1] !== text) seen.push(text);
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  })()`);
  await page.getByTestId('chat-input').fill('Hello from Playwright');
  await page.getByTestId('chat-send').click();
  await expect(page.getByTestId('msg-timings')).toContainText('TTFT');
  const seen = (await page.evaluate('window.seenTexts')) as string[];
  expect(seen.length, 'the reply grew in several steps (streamed), not all at once').toBeGreaterThan(1);
  expect(seen[seen.length - 1]!.startsWith(seen[0]!)).toBe(true);

  await shot(page, 'playground');

  // An impossible request on a fresh conversation (the long reply above would make the history
  // itself too long, a different error): the server's message shows in the chat.
  await page.getByRole('button', { name: 'Clear' }).click();
  await page.getByTestId('max-tokens').fill('100000');
  await page.getByTestId('chat-input').fill('This one asks for too many tokens');
  await page.getByTestId('chat-send').click();
  await expect(page.getByTestId('chat-error')).toContainText('maximum context length');
  await page.getByTestId('max-tokens').fill('64');
});

test('playground: replies render as sanitized Markdown; reasoning shows in a collapsible block', async ({ page }) => {
  await ensureServing();
  await open(page, 'playground');
  // A reasoning model's stream, crafted (the fixture model writes random tokens): reasoning deltas,
  // then Markdown with a code block and HTML that must not run.
  const deltas = [
    { role: 'assistant', content: '' },
    { reasoning_content: 'The user wants ' },
    { reasoning_content: 'code.' },
    { content: 'Here **it is**:\n\n```js\nconsole.log(1 < 2);\n```\n' },
    { content: '<img src=x onerror="window.pwned = true"> <a href="javascript:window.pwned = true">link</a>' },
  ];
  const frames = deltas.map((delta) => `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`);
  frames.push(`data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`, 'data: [DONE]\n\n');
  await page.route('**/v1/chat/completions', (route) => route.fulfill({ status: 200, contentType: 'text/event-stream', body: frames.join('') }));
  await page.getByRole('button', { name: 'Clear' }).click();
  await page.getByTestId('chat-input').fill('Show me code');
  await page.getByTestId('chat-send').click();
  const reply = page.getByTestId('msg-assistant').last();
  await expect(reply.locator('pre code')).toHaveText('console.log(1 < 2);');
  await expect(reply.locator('strong')).toHaveText('it is');
  const reasoning = reply.getByTestId('msg-reasoning');
  await expect(reasoning).toContainText('The user wants code.');
  await expect(reasoning, 'collapsed once the answer is in').not.toHaveAttribute('open');
  await expect(reasoning.locator('.reasoning-text')).toBeHidden();
  await reasoning.locator('summary').click();
  await expect(reasoning.locator('.reasoning-text')).toBeVisible();
  expect(await reply.locator('img[onerror], a[href^="javascript:"], script').count(), 'no HTML from the model runs').toBe(0);
  expect(await page.evaluate('window.pwned === true')).toBe(false);
  await shot(page, 'playground-markdown');
  await page.unroute('**/v1/chat/completions');
});

test('playground: a conversation is saved, regenerated, edited and resent, and reopens after a reload', async ({ page }) => {
  await ensureServing();
  await open(page, 'playground');
  await page.getByTestId('conversation-new').click();
  await page.getByTestId('system-preset').selectOption('Concise');
  await expect(page.getByTestId('system-prompt')).toHaveValue(/Answer briefly and directly/);
  await page.getByTestId('max-tokens').fill('8');
  // This test's own conversation among any others in the shared host's database.
  const marker = Date.now().toString(36);
  await page.getByTestId('chat-input').fill(`First question ${marker}`);
  await page.getByTestId('chat-input').press('Enter');
  await expect(page.getByTestId('msg-timings')).toHaveCount(1, { timeout: 60_000 });
  await expect(page.getByTestId('msg-timings')).toContainText('tiny-llama');
  await expect(page.getByTestId('conversation-item').first()).toHaveText(`First question ${marker}`);

  await page.getByTestId('msg-regenerate').click();
  await expect(page.getByTestId('msg-timings')).toHaveCount(1, { timeout: 60_000 });
  await expect(page.getByTestId('msg-assistant')).toHaveCount(1);

  await page.getByTestId('msg-edit').click();
  await expect(page.getByTestId('chat-input')).toHaveValue(`First question ${marker}`);
  await page.getByTestId('chat-input').fill(`Edited question ${marker}`);
  await page.getByTestId('chat-input').press('Enter');
  await expect(page.getByTestId('msg-timings')).toHaveCount(1, { timeout: 60_000 });
  await expect(page.getByTestId('msg-user').locator('.bubble-text')).toHaveText([`Edited question ${marker}`]);
  await expect(page.getByTestId('conversation-item').first()).toHaveText(`Edited question ${marker}`);

  // Saved in the host's database: a reload (or a restart) lists it and reopens it.
  await page.reload();
  await page.getByTestId('nav-playground').click();
  await page.getByTestId('conversation-item').filter({ hasText: `Edited question ${marker}` }).click();
  await expect(page.getByTestId('msg-user').locator('.bubble-text')).toHaveText([`Edited question ${marker}`]);
  await expect(page.getByTestId('msg-assistant')).toHaveCount(1);
  await expect(page.getByTestId('system-prompt')).toHaveValue(/Answer briefly and directly/, { timeout: 5000 });
  await shot(page, 'playground-conversations');
});

// A reply the server cannot finish while the test runs: the long-context fixture writing to its
// 32768-token end (seconds of work even on a fast machine), ignoring EOS.
const UNFINISHABLE_MAX_TOKENS = 32_000;

for (const how of ['the Stop button', 'Esc'] as const) {
  test(`playground: ${how} stops a streaming reply; the server cancels it and the request log says so`, async ({ page }) => {
    await whileServing(env('HEARTH_E2E_LONG_PACKAGE'), async () => {
      await open(page, 'playground');
      await page.getByTestId('conversation-new').click();
      await ignoreEos(page);
      await page.getByTestId('max-tokens').fill(String(UNFINISHABLE_MAX_TOKENS));
      const marker = `Stop me (${how}) ${Date.now().toString(36)}`;
      await page.getByTestId('chat-input').fill(marker);
      await page.getByTestId('chat-input').press('Enter');
      const reply = page.getByTestId('msg-assistant').last();
      await expect(reply.locator('.bubble-text'), 'streamed text is showing').toHaveAttribute('data-source', /\S/);
      if (how === 'Esc') await page.getByTestId('chat-input').press('Escape');
      else await page.getByTestId('chat-stop').click();
      await expect(reply.getByTestId('chat-error')).toHaveText('Stopped.');
      await expect(page.getByTestId('chat-send')).toBeVisible();
      const shown = await reply.locator('.bubble-text').getAttribute('data-source');

      // The server stopped generating: the request's log row (the real SQLite log) says the client went away, short of max_tokens.
      let entry: RequestLogEntry | undefined;
      await expect.poll(async () => {
        entry = (await admin<RequestListResponse>(`/api/requests?text=${encodeURIComponent(marker)}`)).entries[0];
        return entry?.status;
      }, { timeout: 30_000 }).toBe(499);
      expect(entry!.finishReason).toBe('cancelled');
      expect(entry!.completionTokens, 'cancelled before max_tokens').toBeLessThan(UNFINISHABLE_MAX_TOKENS);
      expect(entry!.completionTokens).toBeGreaterThan(0);
      // By the time the server has logged it, nothing more has reached the reply.
      expect(await reply.locator('.bubble-text').getAttribute('data-source'), 'the reply stopped growing').toBe(shown);

      // The request log view lists it as cancelled.
      await page.getByTestId('nav-requests').click();
      await page.getByTestId('filter-status').selectOption('499');
      await page.getByTestId('filter-text').fill(marker);
      await expect(page.getByTestId('request-row')).toHaveCount(1);
      await expect(page.getByTestId('request-row')).toContainText('499');
      await page.getByTestId('request-row').click();
      await expect(page.getByTestId('request-detail')).toContainText('finish: cancelled');
      await page.unroute('**/api/proxy/v1/chat/completions');
    });
  });
}

test('a conversation survives a restart of the engine host: read with nothing served, then served again and continued', async ({ page }) => {
  // A host of its own, restarted mid-test: restarting the suites' shared host would pull it from under the other tests.
  const host = await ownHost('restart');
  try {
    await ensureServing(host);
    await serveSettingsOfThisMachine(page);
    await ignoreEos(page);
    await open(page, 'playground', host);
    const marker = Date.now().toString(36);
    const question = `Remember me after a restart ${marker}`;
    const other = `Delete me after a restart ${marker}`;
    for (const text of [other, question]) {
      await page.getByTestId('conversation-new').click();
      await page.getByTestId('max-tokens').fill('8');
      await page.getByTestId('chat-input').fill(text);
      await page.getByTestId('chat-input').press('Enter');
      await expect(page.getByTestId('msg-timings')).toHaveCount(1, { timeout: 60_000 });
      await expect(page.getByTestId('conversation-item').filter({ hasText: text })).toHaveCount(1);
    }
    const answer = await page.getByTestId('msg-assistant').locator('.bubble-text').getAttribute('data-source');
    expect(answer?.length ?? 0).toBeGreaterThan(0);
    const timings = await page.getByTestId('msg-timings').textContent();

    // A restarted host serves nothing until told to: the conversations list, search, open, read,
    // rename and delete all the same, and the chat says what sending needs.
    await host.restart();
    await page.reload();
    await page.getByTestId('nav-playground').click();
    await expect(page.getByTestId('playground-serve-notice')).toContainText('No model is being served');
    await expect(page.getByTestId('msg-user')).toHaveCount(0); // nothing open until it is reopened
    await expect(page.getByTestId('conversation-item')).toHaveText([question, other]);
    await page.getByTestId('conversation-search').fill(`restart ${marker}`);
    await expect(page.getByTestId('conversation-item')).toHaveCount(2);
    await page.getByTestId('conversation-search').fill(question);
    await expect(page.getByTestId('conversation-item')).toHaveText([question]);
    await page.getByTestId('conversation-item').click();
    await expect(page.getByTestId('msg-user').locator('.bubble-text')).toHaveText([question]);
    await expect(page.getByTestId('msg-assistant').locator('.bubble-text')).toHaveAttribute('data-source', answer!);
    await expect(page.getByTestId('msg-timings'), 'the model, timings and tokens/s it was answered with').toHaveText(timings!);
    await expect(page.getByTestId('msg-timings')).toContainText('tiny-llama');
    await expect(page.getByTestId('playground-conversation-model')).toHaveText('tiny-llama');
    await expect(page.getByTestId('chat-send')).toBeDisabled();
    await expect(page.getByTestId('msg-regenerate')).toBeDisabled();

    page.once('dialog', (dialog) => void dialog.accept(`Renamed ${marker}`));
    await page.getByRole('button', { name: `Rename ${question}` }).click();
    await expect(page.getByTestId('conversation-item')).toHaveText([`Renamed ${marker}`]); // the search still finds it by its text
    await page.getByTestId('conversation-search').fill('');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: `Delete ${other}` }).click();
    await expect(page.getByTestId('conversation-item')).toHaveText([`Renamed ${marker}`]);
    await expect(page.getByTestId('playground-serve-notice')).toBeVisible();
    await shot(page, 'playground-nothing-served');

    // One click serves the model the conversation used (from the library), and it goes on.
    await page.getByTestId('max-tokens').fill('8');
    await page.getByTestId('playground-serve-model').click();
    await expect(page.getByTestId('chat-input')).toBeFocused({ timeout: 60_000 });
    await expect(page.getByTestId('playground-serve-notice')).toHaveCount(0);
    await page.keyboard.type(`And after it ${marker}`);
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('msg-timings')).toHaveCount(2, { timeout: 60_000 });
    await expect(page.getByTestId('msg-user').locator('.bubble-text')).toHaveText([question, `And after it ${marker}`]);
    await expect(page.getByTestId('conversation-item').filter({ hasText: `Renamed ${marker}` }).locator('xpath=..')).toContainText('4 messages');
  } finally {
    await host.close();
  }
});

test('themes follow the OS unless chosen; Alt+digit opens a view; the current view is aria-current', async ({ page }) => {
  await ensureServing(); // the dark playground's picture shows a served model, whatever ran before
  const background = () => page.evaluate('getComputedStyle(document.documentElement).getPropertyValue("--bg").trim()');
  await page.emulateMedia({ colorScheme: 'dark' });
  await open(page, 'models');
  await expect(page.getByTestId('theme-toggle')).toHaveText('Theme: system');
  const systemDark = await background();
  await page.emulateMedia({ colorScheme: 'light' });
  const systemLight = await background();
  expect(systemDark).not.toBe(systemLight);
  await page.getByTestId('theme-toggle').click(); // system → light
  await expect(page.getByTestId('theme-toggle')).toHaveText('Theme: light');
  expect(await background()).toBe(systemLight);
  await page.getByTestId('theme-toggle').click(); // light → dark, whatever the OS says
  await expect(page.getByTestId('theme-toggle')).toHaveText('Theme: dark');
  expect(await background()).toBe(systemDark);
  await page.reload();
  await expect(page.getByTestId('theme-toggle')).toHaveText('Theme: dark');
  await page.getByTestId('nav-playground').click();
  await shot(page, 'playground-dark');
  await page.keyboard.press('Alt+2');
  await expect(page.getByTestId('view-serve')).toBeVisible();
  await expect(page.getByTestId('nav-serve')).toHaveAttribute('aria-current', 'page');
  await expect(page.getByTestId('nav-models')).not.toHaveAttribute('aria-current', 'page');
  await shot(page, 'serve-dark');
  await page.getByTestId('theme-toggle').click(); // dark → system: the toggle goes round
  await expect(page.getByTestId('theme-toggle')).toHaveText('Theme: system');
});

test('dashboard: tokens/s and the request count move under load', async ({ page }) => {
  await ensureServing();
  await open(page, 'dashboard');
  const requests = page.getByTestId('dash-requests');
  await expect(requests).toHaveText(/^\d+$/);
  // Whatever count the view shows first: the load below only adds to it.
  const before = Number(await requests.textContent());
  await expect(page.getByTestId('memory-source')).toContainText(/nvidia-smi|system RAM/);
  // The UI suite serves on the CPU (device: 'cpu'): the panel says where the engine runs.
  await expect(page.getByTestId('memory-device')).toContainText('Engine on the CPU');

  // Keep the model busy for a few seconds so the 1 s samples see tokens being generated.
  let load = true;
  const loader = (async () => {
    let sent = 0;
    while (load && sent < 40) {
      await Promise.all([chat(120, `load ${sent}`), chat(120, `load ${sent + 1}`)]).then((responses) => Promise.all(responses.map((r) => r.text())));
      sent += 2;
    }
  })();
  try {
    await expect(page.getByTestId('dash-tokens-per-sec')).not.toHaveText('0.0 tok/s', { timeout: 20_000 });
    await expect.poll(async () => Number(await requests.textContent()), { timeout: 20_000 }).toBeGreaterThan(before);
    await expect(page.getByTestId('dash-ttft')).not.toContainText('—');
    // Two chats at a time: some step runs both rows together (the engine's batch, not the running count).
    await expect(page.getByTestId('dash-batch-peak')).toHaveText(/^[2-9]$/, { timeout: 20_000 });
    await shot(page, 'dashboard');
  } finally {
    load = false;
    await loader;
  }
});

test('requests: find the chat in the log and read an error request\'s message', async ({ page }) => {
  await ensureServing();
  // This test's own requests: one answered, one refused (more tokens than the context holds).
  const marker = `Find me in the log ${Date.now().toString(36)}`;
  const answered = await chat(8, marker);
  expect(answered.status).toBe(200);
  await answered.text();
  const refused = await chat(100_000, `${marker} (too long)`);
  expect(refused.status).toBe(400);
  await refused.text();
  await open(page, 'requests');
  await expect(page.getByTestId('requests-table')).toBeVisible();
  await page.getByTestId('filter-status').selectOption('2xx');
  await page.getByTestId('filter-text').fill(marker);
  await expect(page.getByTestId('request-row')).toHaveCount(1);
  await page.getByTestId('request-row').click();
  await expect(page.getByTestId('request-prompt')).toContainText(marker);
  await expect(page.getByTestId('request-detail')).toContainText('200');

  await page.getByTestId('filter-status').selectOption('4xx');
  await expect(page.getByTestId('request-row')).toHaveCount(1);
  await page.getByTestId('request-row').click();
  await expect(page.getByTestId('request-error')).toContainText('maximum context length');
  const csv = await page.request.get(await page.getByTestId('csv-export').getAttribute('href') ?? '');
  expect(csv.status()).toBe(200);
  expect((await csv.text()).split('\r\n')[0]).toMatch(/^id,time_ms,/);
  await expect(page.getByTestId('latency-by-day')).toContainText(new Date().toISOString().slice(0, 10));
  // The whole log in the picture, with the failed request's detail still open.
  await page.getByTestId('filter-status').selectOption('');
  await expect(page.getByTestId('request-row').first()).toBeVisible();
  await shot(page, 'requests');
});

test('benchmark: two sweeps, plotted and compared side by side', async ({ page }) => {
  await ensureServing();
  await open(page, 'benchmark');
  // This test's own runs, among any others the shared host has (the two newest show side by side).
  const marker = Date.now().toString(36);
  for (const label of [`first sweep ${marker}`, `second sweep ${marker}`]) {
    await page.getByTestId('bench-levels').fill('1, 2, 4');
    await page.getByTestId('bench-requests').fill('4');
    await page.getByPlaceholder(/e\.g\. batch/).fill(label);
    await page.getByTestId('bench-run').click();
    await expect(page.getByTestId('bench-run-row').filter({ hasText: label })).toContainText('done', { timeout: 60_000 });
  }
  await expect(page.getByTestId('bench-run-detail')).toHaveCount(2);
  await expect(page.getByTestId('chart-throughput').locator('path')).toHaveCount(2);
  await shot(page, 'benchmark');
});

test('export: sizing table and a bundle on disk, for Hearth and for vLLM; TGI refuses the fp32 package', async ({ page }) => {
  await ensureServing();
  const out = mkdtempSync(join(tmpdir(), 'hearth-e2e-export-')); // bundles go only into empty folders
  try {
    await open(page, 'export');
    await expect(page.getByTestId('sizing-table')).toContainText('T4');
    await expect(page.getByTestId('export-engine-hearth')).toBeChecked();
    await page.getByTestId('export-outdir').fill(join(out, 'bundle'));
    await page.getByTestId('export-run').click();
    await expect(page.getByTestId('export-location')).toHaveText(join(out, 'bundle'), { timeout: 30_000 });
    await expect(page.getByTestId('export-result')).toContainText('Dockerfile');
    await expect(page.getByTestId('export-result-engine')).toHaveText('hearth');
    await shot(page, 'export');

    // vLLM: the same bundle shape, the pinned image serving the Hub checkpoint the library pulled.
    await page.getByTestId('export-engine-vllm').check();
    await expect(page.getByTestId('export-engine-note')).toContainText('original Hub checkpoint');
    await expect(page.getByTestId('export-result')).toHaveCount(0);
    await page.getByTestId('export-outdir').fill(join(out, 'bundle-vllm'));
    await page.getByTestId('export-run').click();
    await expect(page.getByTestId('export-location')).toHaveText(join(out, 'bundle-vllm'), { timeout: 30_000 });
    await expect(page.getByTestId('export-result-engine')).toHaveText('vllm');
    await expect(page.getByTestId('export-image')).toContainText('vllm/vllm-openai:v');
    await expect(page.getByTestId('export-result')).toContainText('k8s/deployment.yaml');
    await expect(page.getByTestId('export-result')).not.toContainText('Dockerfile');
    await expect(page.getByTestId('export-result')).toContainText(`serves ${env('HEARTH_E2E_REPO')} at `);
    await shot(page, 'export-vllm');

    // TGI takes float16 or bfloat16 only: the served fp32 package is refused with what to do.
    await page.getByTestId('export-engine-tgi').check();
    await expect(page.getByTestId('export-engine-note')).toContainText('maintenance mode');
    await page.getByTestId('export-outdir').fill(join(out, 'bundle-tgi'));
    await page.getByTestId('export-run').click();
    await expect(page.getByTestId('export-bundle')).toContainText("TGI's --dtype does not take fp32", { timeout: 30_000 });
    await expect(page.getByTestId('export-bundle')).toContainText(`hearth pull ${env('HEARTH_E2E_REPO')} --dtype fp16`);
    await shot(page, 'export-tgi-refused');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test.describe('serve the library', () => {
  const SECOND = 'tiny-llama-b';

  /** A second library model: the fixture checkpoint imported under another name (as the Models view's Import does). */
  async function ensureSecondModel(): Promise<void> {
    const library = await admin<{ models: Array<{ name: string }> }>('/api/library');
    if (library.models.some((model) => model.name === SECOND)) return;
    const { jobId } = await admin<{ jobId: string }>('/api/library/import', { method: 'POST', body: { path: env('HEARTH_E2E_CHECKPOINT'), name: SECOND, dtype: 'fp32' } });
    await expect.poll(async () => (await admin<{ pulls: Array<{ jobId: string; phase: string }> }>('/api/hub/pulls')).pulls.find((pull) => pull.jobId === jobId)?.phase, { timeout: 60_000 })
      .toBe('done');
  }

  test.afterAll(async () => {
    // Later tests serve one model (ensureServing): leave nothing served.
    await admin('/api/serve/stop', { method: 'POST' });
  });

  test('serve the library from the Serve view, chat with two models by name, see both loaded with memory, unload one', async ({ page }) => {
    await ensureInLibrary();
    await ensureSecondModel();
    await admin('/api/serve/stop', { method: 'POST' });
    await open(page, 'serve');
    await page.getByTestId('serve-library').check();
    await page.getByTestId('serve-max-loaded').fill('2');
    await page.getByTestId('serve-idle-unload').fill('-1');
    await page.getByTestId('serve-port').fill('0');
    await page.getByTestId('serve-start').click();
    await expect(page.getByTestId('endpoint-url')).toHaveText(/^http:\/\/127\.0\.0\.1:\d+\/v1$/, { timeout: 30_000 });
    await expect(page.getByTestId('serve-state')).toHaveText('Serving the library');
    await expect(page.getByTestId('serve-loaded-models').getByTestId('empty-state')).toContainText('No model is loaded yet');

    // Each reply names the model that wrote it.
    await page.getByTestId('nav-playground').click();
    // Short replies: both turns fit the tiny model's 256-token context as one conversation.
    await page.getByTestId('max-tokens').fill('8');
    for (const [i, name] of ['tiny-llama', SECOND].entries()) {
      await page.getByTestId('playground-model').selectOption(name);
      await page.getByTestId('chat-input').fill(`Hello ${name}`);
      await page.getByTestId('chat-send').click();
      await expect(page.getByTestId('msg-timings')).toHaveCount(i + 1, { timeout: 60_000 });
      await expect(page.getByTestId('msg-timings').nth(i)).toContainText(`${name} · TTFT`);
    }

    await page.getByTestId('nav-serve').click();
    const loaded = page.getByTestId('serve-loaded-models');
    for (const id of ['tiny-llama:fp32', `${SECOND}:fp32`]) {
      await expect(loaded.getByTestId(`loaded-${id}`)).toBeVisible();
      await expect(loaded.getByTestId(`loaded-${id}`).getByTestId('loaded-memory')).toHaveText(/^\d+(\.\d)? (KB|MB|GB)$/);
    }
    await expect(page.getByTestId('serve-memory-used')).toContainText('2 of at most 2 loaded');
    await shot(page, 'serve-library');

    await page.getByTestId('nav-dashboard').click();
    await expect(page.getByTestId(`dash-model-tiny-llama:fp32`).getByTestId('dash-model-requests')).toHaveText('1');
    await expect(page.getByTestId(`dash-model-${SECOND}:fp32`).getByTestId('dash-model-requests')).toHaveText('1');
    await expect(page.getByTestId('dash-requests')).toHaveText('2');

    await page.getByTestId('nav-serve').click();
    await loaded.getByTestId(`loaded-${SECOND}:fp32`).getByRole('button', { name: 'Unload' }).click();
    await expect(loaded.getByTestId(`loaded-${SECOND}:fp32`)).toHaveCount(0);
    await expect(loaded.getByTestId('loaded-tiny-llama:fp32')).toBeVisible();
    await expect(page.getByTestId('serve-memory-used')).toContainText('1 of at most 2 loaded');
    expect((await admin<{ models: Array<{ id: string; state: string }> }>('/api/serve/models')).models.find((model) => model.id === `${SECOND}:fp32`)?.state).toBe('unloaded');

    // And Load brings it back, by name, before any request names it.
    await page.getByTestId('serve-load-choice').selectOption(`${SECOND}:fp32`);
    await page.getByTestId('serve-load').click();
    await expect(loaded.getByTestId(`loaded-${SECOND}:fp32`)).toBeVisible({ timeout: 30_000 });
    await expect(page.getByTestId('serve-memory-used')).toContainText('2 of at most 2 loaded');
  });
});
