// The desktop UI, driven like a user in Chromium against the real engine host and a generated
// fixture model: find and download a model, serve it, chat (streamed), watch the dashboard move,
// find the requests (and an error's message) in the log, benchmark, export. Each test saves a
// screenshot of its view to docs/screenshots/<view>.png.
import { expect, test, type Page } from '@playwright/test';
import { join } from 'node:path';

const SHOTS = join(process.cwd(), 'docs', 'screenshots');
const env = (name: string) => process.env[name] ?? '';

test.describe.configure({ mode: 'serial' });
test.skip(() => Boolean(process.env.HEARTH_E2E_SKIP), `SKIP: ${process.env.HEARTH_E2E_SKIP}`);

async function open(page: Page, view: string): Promise<void> {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${env('HEARTH_E2E_URL')}/#token=${env('HEARTH_E2E_TOKEN')}`);
  await page.getByTestId(`nav-${view}`).click();
  await expect(page.getByTestId(`view-${view}`)).toBeVisible();
  expect(errors, 'no uncaught errors in the page').toEqual([]);
}

const shot = (page: Page, view: string) => page.screenshot({ path: join(SHOTS, `${view}.png`), fullPage: true });

/** The engine host's admin API, as the renderer calls it. */
async function admin<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const response = await fetch(`${env('HEARTH_E2E_URL')}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${env('HEARTH_E2E_TOKEN')}`, 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/**
 * Each test that needs a served model sets it up itself (through the admin API, as the Models and
 * Serve views do), so no test depends on what an earlier one left behind.
 */
async function ensureServing(): Promise<void> {
  const serving = await admin<{ state: string }>('/api/serve');
  if (serving.state === 'ready') return;
  await ensureInLibrary();
  const started = await admin<{ state: string; error: string | null }>('/api/serve/start', { method: 'POST', body: { settings: { model: 'tiny-llama', device: 'cpu', port: 0 } } });
  expect(started.state, started.error ?? '').toBe('ready');
}

/** The fixture model in the library (downloaded from the fake Hub, as the Models view does). */
async function ensureInLibrary(): Promise<void> {
  const library = await admin<{ models: Array<{ name: string; variants: Array<{ dtype: string }> }> }>('/api/library');
  if (!library.models.some((model) => model.name === 'tiny-llama' && model.variants.some((variant) => variant.dtype === 'fp32'))) {
    const { jobId } = await admin<{ jobId: string }>('/api/hub/pull', { method: 'POST', body: { repo: env('HEARTH_E2E_REPO'), dtype: 'fp32' } });
    await expect.poll(async () => (await admin<{ pulls: Array<{ jobId: string; phase: string }> }>('/api/hub/pulls')).pulls.find((pull) => pull.jobId === jobId)?.phase, { timeout: 60_000 })
      .toBe('done');
  }
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
  await open(page, 'models');
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
});

test('models: import a checkpoint folder from disk, see it in the library, and chat with it', async ({ page }) => {
  await open(page, 'models');
  await page.getByTestId('import-path').fill(env('HEARTH_E2E_CHECKPOINT'));
  await page.getByTestId('import-name').fill('my-finetune');
  await page.getByTestId('import-dtype').selectOption('fp32');
  await page.getByTestId('import-run').click();
  await expect(page.getByTestId('downloads')).toContainText(env('HEARTH_E2E_CHECKPOINT'));
  await expect(page.getByTestId('library-source-my-finetune')).toContainText(`imported from ${env('HEARTH_E2E_CHECKPOINT')}`, { timeout: 60_000 });
  await shot(page, 'models-import');
  // It serves by name like a pulled model (the Serve view's path, through the admin API), and answers.
  const before = await admin<{ state: string; settings: unknown }>('/api/serve');
  const started = await admin<{ state: string; error: string | null }>('/api/serve/start', { method: 'POST', body: { settings: { model: 'my-finetune', device: 'cpu', port: 0 } } });
  expect(started.state, started.error ?? '').toBe('ready');
  try {
    const response = await fetch(`${env('HEARTH_E2E_URL')}/api/proxy/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env('HEARTH_E2E_TOKEN')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'my-finetune', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { model: string }).model).toBe('my-finetune');
  } finally {
    await admin('/api/serve/stop', { method: 'POST' });
    if (before.state === 'ready') await admin('/api/serve/start', { method: 'POST', body: { settings: before.settings } });
  }
});

test('three actions from the start page to a streamed reply: Chat on a library model, type, Enter', async ({ page }) => {
  await ensureInLibrary();
  await admin('/api/serve/stop', { method: 'POST' }); // so that Chat has to load it
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
  await page.getByTestId('serve-start').click();
  await expect(page.getByTestId('endpoint-url')).toHaveText(/^http:\/\/127\.0\.0\.1:\d+\/v1$/, { timeout: 30_000 });
  await expect(page.getByTestId('serve-state')).toHaveText('Serving tiny-llama');
  await expect(page.getByTestId('snippet')).toContainText('curl http://127.0.0.1:');
  await page.getByRole('button', { name: 'OpenAI SDK' }).click();
  await expect(page.getByTestId('snippet')).toContainText("import OpenAI from 'openai'");
  await shot(page, 'serve');
});

test('playground: a chat streams in, with timings; an error says what to do', async ({ page }) => {
  await ensureServing();
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
  await page.getByTestId('chat-input').fill('First question');
  await page.getByTestId('chat-input').press('Enter');
  await expect(page.getByTestId('msg-timings')).toHaveCount(1, { timeout: 60_000 });
  await expect(page.getByTestId('msg-timings')).toContainText('tiny-llama');
  await expect(page.getByTestId('conversation-item').first()).toHaveText('First question');

  await page.getByTestId('msg-regenerate').click();
  await expect(page.getByTestId('msg-timings')).toHaveCount(1, { timeout: 60_000 });
  await expect(page.getByTestId('msg-assistant')).toHaveCount(1);

  await page.getByTestId('msg-edit').click();
  await expect(page.getByTestId('chat-input')).toHaveValue('First question');
  await page.getByTestId('chat-input').fill('Edited question');
  await page.getByTestId('chat-input').press('Enter');
  await expect(page.getByTestId('msg-timings')).toHaveCount(1, { timeout: 60_000 });
  await expect(page.getByTestId('msg-user').locator('.bubble-text')).toHaveText(['Edited question']);
  await expect(page.getByTestId('conversation-item').first()).toHaveText('Edited question');

  // Saved in the host's database: a reload (or a restart) lists it and reopens it.
  await page.reload();
  await page.getByTestId('nav-playground').click();
  await page.getByTestId('conversation-item').filter({ hasText: 'Edited question' }).first().click();
  await expect(page.getByTestId('msg-user').locator('.bubble-text')).toHaveText(['Edited question']);
  await expect(page.getByTestId('msg-assistant')).toHaveCount(1);
  await expect(page.getByTestId('system-prompt')).toHaveValue(/Answer briefly and directly/, { timeout: 5000 });
  await shot(page, 'playground-conversations');
});

test('themes follow the OS unless chosen; Alt+digit opens a view; the current view is aria-current', async ({ page }) => {
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
  await page.getByTestId('theme-toggle').click(); // dark → system, for the tests after this one
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
  await expect(page.getByTestId('bench-runs').getByTestId('empty-state')).toBeVisible();
  for (const label of ['first sweep', 'second sweep']) {
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
  await open(page, 'export');
  await expect(page.getByTestId('sizing-table')).toContainText('T4');
  await expect(page.getByTestId('export-engine-hearth')).toBeChecked();
  await page.getByTestId('export-outdir').fill(join(env('HEARTH_E2E_HOME'), 'bundle'));
  await page.getByTestId('export-run').click();
  await expect(page.getByTestId('export-location')).toHaveText(join(env('HEARTH_E2E_HOME'), 'bundle'), { timeout: 30_000 });
  await expect(page.getByTestId('export-result')).toContainText('Dockerfile');
  await expect(page.getByTestId('export-result-engine')).toHaveText('hearth');
  await shot(page, 'export');

  // vLLM: the same bundle shape, the pinned image serving the Hub checkpoint the library pulled.
  await page.getByTestId('export-engine-vllm').check();
  await expect(page.getByTestId('export-engine-note')).toContainText('original Hub checkpoint');
  await expect(page.getByTestId('export-result')).toHaveCount(0);
  await page.getByTestId('export-outdir').fill(join(env('HEARTH_E2E_HOME'), 'bundle-vllm'));
  await page.getByTestId('export-run').click();
  await expect(page.getByTestId('export-location')).toHaveText(join(env('HEARTH_E2E_HOME'), 'bundle-vllm'), { timeout: 30_000 });
  await expect(page.getByTestId('export-result-engine')).toHaveText('vllm');
  await expect(page.getByTestId('export-image')).toContainText('vllm/vllm-openai:v');
  await expect(page.getByTestId('export-result')).toContainText('k8s/deployment.yaml');
  await expect(page.getByTestId('export-result')).not.toContainText('Dockerfile');
  await expect(page.getByTestId('export-result')).toContainText(`serves ${env('HEARTH_E2E_REPO')} at `);
  await shot(page, 'export-vllm');

  // TGI takes float16 or bfloat16 only: the served fp32 package is refused with what to do.
  await page.getByTestId('export-engine-tgi').check();
  await expect(page.getByTestId('export-engine-note')).toContainText('maintenance mode');
  await page.getByTestId('export-outdir').fill(join(env('HEARTH_E2E_HOME'), 'bundle-tgi'));
  await page.getByTestId('export-run').click();
  await expect(page.getByTestId('export-bundle')).toContainText("TGI's --dtype does not take fp32", { timeout: 30_000 });
  await expect(page.getByTestId('export-bundle')).toContainText(`hearth pull ${env('HEARTH_E2E_REPO')} --dtype fp16`);
  await shot(page, 'export-tgi-refused');
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
