// A serving process (`hearth serve` or the container's entrypoint) run as a real child: ready
// line, one completion, SIGTERM, exit code. For the tests of built code (build, exportBundle).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

/** Spawns a serving command, waits for its ready line, asks for a completion, stops it with SIGTERM. */
export async function serveToReady(command: string[], env: NodeJS.ProcessEnv): Promise<{ output: string; exitCode: number }> {
  const child = spawn(process.execPath, command, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const closed = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  try {
    const deadline = Date.now() + 60_000;
    while (!/hearth serve: ready/.test(output)) {
      if (child.exitCode !== null || Date.now() > deadline) assert.fail(`no ready line (exit ${child.exitCode}):\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1];
    const response = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'hello', max_tokens: 3 }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    assert.ok(((await response.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens > 0, 'the built runner worker generated');
    // Structured output runs on the runner's grammar thread: a second worker the build must ship and find.
    const schema = { type: 'object', properties: { answer: { enum: ['yes'] } }, required: ['answer'], additionalProperties: false };
    const structured = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'ok?' }], max_tokens: 40, response_format: { type: 'json_schema', json_schema: { name: 'a', schema } } }),
    });
    assert.equal(structured.status, 200, await structured.clone().text());
    const choice = ((await structured.json()) as { choices: Array<{ message: { content: string }; finish_reason: string }> }).choices[0]!;
    assert.deepEqual([JSON.parse(choice.message.content), choice.finish_reason], [{ answer: 'yes' }, 'stop'], 'the built grammar worker constrained the output');
  } finally {
    child.kill('SIGTERM');
  }
  const exitCode = await closed;
  return { output, exitCode };
}
