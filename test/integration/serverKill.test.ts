// `kill -9` of `hearth serve` under load loses no request-log row of a request that got its answer:
// a real child process on the generated fixture, concurrent streamed and plain requests, SIGKILL
// as soon as N complete answers have arrived (no sleeps), then the database is checked and a
// restarted server serves and logs again.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDb } from '../../engine/store/db.js';
import { postJson, tinyPackage } from './serverHarness.js';

const hearth = fileURLToPath(new URL('../../bin/hearth.mjs', import.meta.url));
const NUM_REQUESTS = 48;
const KILL_AFTER_ANSWERS = 16;
let home: string;
let packageDir: string;
const children: ChildProcess[] = [];

before(async () => {
  packageDir = (await tinyPackage()).packageDir;
  home = mkdtempSync(join(tmpdir(), 'hearth-serve-kill-'));
});
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

async function startServe(): Promise<{ child: ChildProcess; url: string; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, [hearth, 'serve', packageDir, '--port', '0', '--served-name', 'tiny-kill'], {
    env: { ...process.env, HEARTH_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const exited = new Promise((resolve) => child.on('exit', resolve));
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)[\s\S]*ready — /.exec(stdout);
      if (match) resolve(match[1]!);
    });
    child.on('exit', (code) => reject(new Error(`hearth serve exited (${code}) before it was ready:\n${stdout}\n${stderr}`)));
  });
  return { child, url, exited };
}

/** One request, read to its end; resolves with the response id only if the answer arrived complete. */
async function complete(url: string, index: number): Promise<string | null> {
  const stream = index % 2 === 0;
  const chat = index % 3 !== 0;
  const body = chat
    ? { model: 'tiny-kill', messages: [{ role: 'user', content: `request ${index}` }], max_tokens: 8 + (index % 5) * 8, ignore_eos: true, stream }
    : { model: 'tiny-kill', prompt: `request ${index}`, max_tokens: 8 + (index % 5) * 8, ignore_eos: true, stream };
  try {
    const response = await fetch(`${url}${chat ? '/v1/chat/completions' : '/v1/completions'}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status !== 200) return null;
    if (!stream) return (JSON.parse(text) as { id: string }).id;
    if (!text.endsWith('data: [DONE]\n\n')) return null;
    return (JSON.parse(text.slice('data: '.length, text.indexOf('\n'))) as { id: string }).id;
  } catch {
    return null; // cut off by the kill: not a complete answer
  }
}

test('every request answered before SIGKILL has its row; the database is intact; a restart serves and logs', async (t) => {
  const first = await startServe();
  const answeredIds: string[] = [];
  let killed = false;
  const requests = Array.from({ length: NUM_REQUESTS }, (_, index) =>
    complete(first.url, index).then((id) => {
      if (id === null) return;
      answeredIds.push(id);
      if (answeredIds.length >= KILL_AFTER_ANSWERS && !killed) {
        killed = true;
        first.child.kill('SIGKILL');
      }
    }),
  );
  await Promise.all(requests);
  await first.exited;
  assert.ok(killed, `only ${answeredIds.length} answers arrived; the kill never happened`);
  assert.equal(first.child.signalCode, 'SIGKILL');
  assert.ok(answeredIds.length < NUM_REQUESTS, 'some requests were still running when the process died');

  const file = join(home, 'hearth.db');
  const db = openDb(file);
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    const loggedIds = new Set((db.prepare('SELECT id FROM request_log').all() as { id: string }[]).map((row) => row.id));
    const missing = answeredIds.filter((id) => !loggedIds.has(id));
    assert.deepEqual(missing, [], `${missing.length} of ${answeredIds.length} answered requests have no row`);
    t.diagnostic(`${answeredIds.length} of ${NUM_REQUESTS} requests answered before the process died; ${loggedIds.size} rows in the log`);
  } finally {
    db.close();
  }

  const second = await startServe();
  const { status, json } = await postJson(`${second.url}/v1/chat/completions`, { model: 'tiny-kill', messages: [{ role: 'user', content: 'again' }], max_tokens: 2 });
  assert.equal(status, 200);
  second.child.kill('SIGTERM');
  await second.exited;
  assert.equal(second.child.exitCode, 0);
  const reopened = openDb(file);
  try {
    assert.equal(reopened.pragma('integrity_check', { simple: true }), 'ok');
    assert.ok(reopened.prepare('SELECT 1 FROM request_log WHERE id = ?').get(json.id), 'the restarted server logs again');
  } finally {
    reopened.close();
  }
});
