import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvCacheManager } from './kvCache.js';
import { Scheduler, type PlannedRun, type SchedulerConfig, type StepPlan } from './scheduler.js';
import { PrefixCache } from './prefixCache.js';

const config = { maxBatchSize: 8, maxBatchTotalTokens: 100_000, maxPrefillTokens: 256 };

function sampledIds(plan: StepPlan): string[] {
  const runs: PlannedRun[] = [...plan.prefills, ...(plan.decode?.rows.filter((row): row is PlannedRun => row.requestId !== null) ?? [])];
  return runs.filter((run) => run.sample).map((run) => run.requestId);
}

/** Drive the scheduler like the engine does; each request stops after `newTokens[id]` samples. */
function drive(scheduler: Scheduler, newTokens: Map<string, number>, onPlan?: (plan: StepPlan) => void, maxSteps = 10_000) {
  const generated = new Map<string, number>();
  const plans: StepPlan[] = [];
  while (scheduler.hasWork && plans.length < maxSteps) {
    const plan = scheduler.schedule();
    plans.push(plan);
    onPlan?.(plan);
    const sampled = sampledIds(plan);
    scheduler.updateFromOutput(plan, sampled);
    for (const id of sampled) {
      generated.set(id, (generated.get(id) ?? 0) + 1);
      if (generated.get(id)! >= newTokens.get(id)!) scheduler.remove(id);
    }
  }
  return { plans, generated };
}

test('long prompts are prefilled in chunks while a running stream keeps decoding', () => {
  const scheduler = new Scheduler(config, new KvCacheManager(4096));
  scheduler.add('short', 5);
  const first = scheduler.schedule();
  assert.deepEqual(first.prefills.map((run) => [run.requestId, run.startToken, run.numTokens, run.sample]), [['short', 0, 5, true]]);
  scheduler.updateFromOutput(first, ['short']);
  scheduler.add('long', 600);
  const chunks: Array<[number, number, boolean]> = [];
  let decodeSteps = 0;
  for (let step = 0; step < 3; step++) {
    const plan = scheduler.schedule();
    assert.equal(plan.decode?.rows.length, 1, 'the short stream decodes every step');
    assert.equal(plan.decode?.rows[0]!.requestId, 'short');
    decodeSteps++;
    for (const run of plan.prefills) chunks.push([run.startToken, run.numTokens, run.sample]);
    assert.ok(plan.numPrefillTokens <= config.maxPrefillTokens);
    scheduler.updateFromOutput(plan, sampledIds(plan));
  }
  assert.deepEqual(chunks, [[0, 256, false], [256, 256, false], [512, 88, true]]);
  const next = scheduler.schedule();
  assert.equal(next.decode?.numRows, 2, 'both decode once the long prompt is in');
  assert.equal(decodeSteps, 3);
});

test('a request mid-prefill inside the decode range is a padding row', () => {
  const scheduler = new Scheduler({ ...config, maxPrefillTokens: 100 }, new KvCacheManager(4096));
  scheduler.add('a', 10);
  scheduler.add('b', 10);
  let plan = scheduler.schedule(); // a and b prefill
  scheduler.updateFromOutput(plan, sampledIds(plan));
  scheduler.add('c', 300);
  plan = scheduler.schedule(); // a, b decode; c admitted into row 2, first 100 tokens
  assert.deepEqual(plan.prefills.map((run) => [run.requestId, run.row, run.numTokens]), [['c', 2, 100]]);
  scheduler.updateFromOutput(plan, sampledIds(plan));
  scheduler.remove('a'); // c (row 2) moves into row 0
  plan = scheduler.schedule();
  assert.deepEqual(plan.cacheOps[0], { kind: 'move', from: { offsetTokens: 2 * 128, strideTokens: 128 }, to: { offsetTokens: 0, strideTokens: 128 }, numTokens: 100 });
  assert.equal(plan.decode?.numRows, 2);
  assert.deepEqual(plan.decode?.rows.map((row) => [row.requestId, row.startToken]), [[null, 100], ['b', 11]]);
  assert.deepEqual(plan.prefills.map((run) => [run.requestId, run.row, run.startToken, run.numTokens]), [['c', 0, 100, 100]]);
});

test('a long prompt gets a region of its own: six short streams decode next to it in a cache one stride would give it alone', () => {
  const scheduler = new Scheduler({ ...config, maxPrefillTokens: 1024 }, new KvCacheManager(1024));
  scheduler.add('long', 600);
  for (let i = 0; i < 7; i++) scheduler.add(`short${i}`, 10);
  const plan = scheduler.schedule();
  // strideFor(601) = 640 at the back; 384 tokens left = 6 block rows at stride 64.
  assert.deepEqual(plan.admittedIds, ['long', 'short0', 'short1', 'short2', 'short3', 'short4', 'short5']);
  assert.equal(plan.rowPlacements.length, 7);
  assert.deepEqual(plan.rowPlacements[6], { offsetTokens: 1024 - 640, strideTokens: 640 }, 'the long row is numbered after the block');
  assert.deepEqual(plan.rowPlacements.slice(0, 6).map((p) => p.offsetTokens), [0, 64, 128, 192, 256, 320]);
  scheduler.updateFromOutput(plan, sampledIds(plan));
  const next = scheduler.schedule();
  assert.equal(next.decode?.numRows, 7, 'all seven decode');
  assert.equal(scheduler.kv.stride, 64, 'the short rows keep their stride');
  const oneStride = new Scheduler({ ...config, maxPrefillTokens: 1024 }, new KvCacheManager(1024, { maxLongRows: 0 }));
  oneStride.add('long', 600);
  oneStride.add('short0', 10);
  assert.deepEqual(oneStride.schedule().admittedIds, ['long'], 'one stride: 2 × 640 > 1024');
});

test('batched continuous run: every request gets exactly its tokens, rows stay compact, limits hold', () => {
  const scheduler = new Scheduler({ ...config, maxBatchSize: 4, maxPrefillTokens: 64 }, new KvCacheManager(64 * 64));
  const newTokens = new Map<string, number>();
  for (let i = 0; i < 12; i++) {
    scheduler.add(`r${i}`, 3 + i * 11);
    newTokens.set(`r${i}`, 5 + (i % 4) * 7);
  }
  const { generated, plans } = drive(scheduler, newTokens, (plan) => {
    assert.ok(scheduler.numRunning <= 4);
    assert.ok(plan.numPrefillTokens <= 64);
    const rows = [...plan.prefills.map((run) => run.row), ...(plan.decode?.rows.map((row) => row.row) ?? [])];
    for (const row of rows) assert.ok(row < scheduler.kv.numRows);
  });
  for (const [id, count] of newTokens) assert.equal(generated.get(id), count, id);
  assert.equal(scheduler.kv.numRows, 0);
  assert.ok(plans.length < 200);
});

test('admission waits when the cache is full, then proceeds when a row frees', () => {
  // 2 rows of stride 64 fit in 128 tokens.
  const scheduler = new Scheduler(config, new KvCacheManager(128));
  scheduler.add('a', 10);
  scheduler.add('b', 10);
  scheduler.add('c', 10);
  let plan = scheduler.schedule();
  assert.deepEqual(plan.admittedIds, ['a', 'b']);
  assert.equal(scheduler.numWaiting, 1);
  scheduler.updateFromOutput(plan, sampledIds(plan));
  scheduler.remove('a');
  plan = scheduler.schedule();
  assert.deepEqual(plan.admittedIds, ['c']);
});

test('a growing batch preempts the most recently admitted request, which is recomputed and continues', () => {
  // 3 rows × 64 = 192 tokens; when sequences pass 64 tokens the stride becomes 128 and only one row
  // fits (one stride for all rows: with a region of its own, old would fit next to new).
  const scheduler = new Scheduler(config, new KvCacheManager(192, { maxLongRows: 0 }));
  scheduler.add('old', 50);
  scheduler.add('mid', 20);
  scheduler.add('new', 10);
  const newTokens = new Map([['old', 30], ['mid', 10], ['new', 60]]);
  const preempted: string[] = [];
  const recomputed: Array<{ id: string; numTokens: number }> = [];
  const { generated } = drive(scheduler, newTokens, (plan) => {
    preempted.push(...plan.preemptedIds);
    for (const run of plan.prefills) if (run.startToken === 0 && preempted.includes(run.requestId)) recomputed.push({ id: run.requestId, numTokens: run.numTokens });
  });
  assert.deepEqual(preempted[0], 'new', 'latest admitted goes first');
  assert.ok(recomputed.some((entry) => entry.id === 'new' && entry.numTokens > 10), 'recompute covers prompt + generated tokens');
  for (const [id, count] of newTokens) assert.equal(generated.get(id), count, `${id} still gets all its tokens`);
});

test('removal during a step waits for its output', () => {
  const scheduler = new Scheduler(config, new KvCacheManager(1024));
  scheduler.add('a', 4);
  scheduler.add('b', 4);
  let plan = scheduler.schedule();
  scheduler.updateFromOutput(plan, ['a', 'b']);
  plan = scheduler.schedule();
  scheduler.remove('a'); // cancelled mid-step
  scheduler.updateFromOutput(plan, ['a', 'b']);
  assert.equal(scheduler.has('a'), false);
  plan = scheduler.schedule();
  assert.deepEqual(plan.cacheOps, [{ kind: 'move', from: { offsetTokens: 64, strideTokens: 64 }, to: { offsetTokens: 0, strideTokens: 64 }, numTokens: 5 }], 'moves b with the token the step added');
});

test('first chunks of consecutive rows run as one padded batch; continued chunks run alone', () => {
  const scheduler = new Scheduler({ ...config, maxPrefillTokens: 64 }, new KvCacheManager(4096));
  scheduler.add('a', 10);
  scheduler.add('b', 12);
  scheduler.add('c', 60); // gets 42 of its 60 tokens
  let plan = scheduler.schedule();
  assert.deepEqual(plan.prefillGroups.map((g) => [g.firstRow, g.runs.map((r) => [r.requestId, r.numTokens])]), [
    [0, [['a', 10], ['b', 12], ['c', 42]]],
  ]);
  scheduler.updateFromOutput(plan, sampledIds(plan));
  scheduler.add('d', 5);
  plan = scheduler.schedule();
  assert.deepEqual(plan.prefillGroups.map((g) => [g.firstRow, g.runs.map((r) => [r.requestId, r.startToken, r.numTokens])]), [
    [2, [['c', 42, 18]]],
    [3, [['d', 0, 5]]],
  ]);
  // Padding is capped: rows × longest chunk ≤ 2 × maxPrefillTokens.
  const wide = new Scheduler({ ...config, maxPrefillTokens: 64 }, new KvCacheManager(4096));
  wide.add('long', 64);
  wide.add('x', 1);
  wide.add('y', 1);
  plan = wide.schedule();
  assert.deepEqual(plan.prefillGroups.map((g) => g.runs.length), [1]);
  assert.equal(plan.prefills.length, 1, 'the budget went to the long prompt');
});

/** A scheduler with a prefix cache over token lists the test owns (appending sampled tokens as the engine does). */
function withPrefixCache(kvCapacity: number, prefixCapacity = 10_000, schedulerConfig: SchedulerConfig = config) {
  const tokens = new Map<string, number[]>();
  const cache = new PrefixCache(prefixCapacity, schedulerConfig.separatePromptPath ?? false);
  const scheduler = new Scheduler(schedulerConfig, new KvCacheManager(kvCapacity), { cache, tokensOf: (id) => tokens.get(id)! });
  const add = (id: string, prompt: number[]) => {
    tokens.set(id, [...prompt]);
    scheduler.add(id, prompt.length);
  };
  /** Run one step: every sampled request appends `sampleToken`. */
  const step = (sampleToken = 7, failedIds = new Set<string>()) => {
    const plan = scheduler.schedule();
    const sampled = sampledIds(plan).filter((id) => !failedIds.has(id));
    scheduler.updateFromOutput(plan, sampled, failedIds);
    for (const id of sampled) tokens.get(id)!.push(sampleToken);
    return plan;
  };
  return { scheduler, tokens, add, step };
}

const range = (start: number, length: number) => Array.from({ length }, (_, i) => start + i);

test('prefix cache: a finished request is saved before its row is freed; the next turn loads it and prefills only the rest', () => {
  const { scheduler, add, step, tokens } = withPrefixCache(4096);
  add('turn1', range(0, 100));
  step(); // prefill + first sample
  step(); // decode one more
  scheduler.remove('turn1'); // 102 known tokens, 101 cached
  add('turn2', [...tokens.get('turn1')!, ...range(500, 20)]);
  const plan = step();
  const opKinds = plan.cacheOps.map((op) => op.kind);
  assert.deepEqual(opKinds.filter((kind) => kind !== 'restride'), ['save', 'load']);
  const save = plan.cacheOps.find((op) => op.kind === 'save')!;
  const load = plan.cacheOps.find((op) => op.kind === 'load')!;
  assert.deepEqual(save, { kind: 'save', from: { offsetTokens: 0, strideTokens: 128 }, numTokens: 101, entryId: 1 });
  assert.deepEqual(load, { kind: 'load', entryId: 1, to: { offsetTokens: 0, strideTokens: 128 }, numTokens: 101 });
  assert.ok(plan.cacheOps.indexOf(load) > plan.cacheOps.findLastIndex((op) => op.kind === 'restride'), 'loads come after the restride');
  assert.deepEqual(plan.prefixHits, [{ requestId: 'turn2', numTokens: 101 }]);
  assert.deepEqual(plan.prefills.map((run) => [run.requestId, run.startToken, run.numTokens, run.sample]), [['turn2', 101, 21, true]], 'the 102nd token and the new 20 are prefilled');
});

test('prefix cache: a preempted request is saved and readmitted from its own entry; a failed one is not saved', () => {
  // 128 tokens of cache: two rows at stride 64 fit, until one outgrows 64.
  const { scheduler, add, step } = withPrefixCache(128);
  add('a', range(0, 40));
  add('b', range(1000, 40));
  step();
  let preempted: string[] = [];
  let plan: StepPlan | null = null;
  for (let i = 0; i < 40 && preempted.length === 0; i++) {
    plan = step();
    preempted = plan.preemptedIds;
  }
  assert.deepEqual(preempted, ['b'], 'b (the latest) gives way when a row needs stride 128');
  assert.ok(plan!.cacheOps.some((op) => op.kind === 'save'), 'its cached tokens were saved');
  scheduler.remove('a');
  const readmit = step();
  assert.deepEqual(readmit.admittedIds, ['b']);
  assert.equal(readmit.prefixHits[0]?.requestId, 'b');
  const run = [...readmit.prefills, ...(readmit.decode?.rows ?? [])].find((r) => r.requestId === 'b')!;
  assert.equal(run.startToken, readmit.prefixHits[0]!.numTokens, 'recompute starts after the cached prefix');
  assert.ok(readmit.decode?.rows.some((r) => r.requestId === 'b'), 'all of it was cached: only its last token is fed, as a decode row');

  const failing = withPrefixCache(4096);
  failing.add('x', range(0, 60));
  failing.step(7, new Set(['x']));
  failing.scheduler.remove('x', false);
  failing.add('y', range(0, 60));
  const after = failing.step();
  assert.ok(!after.cacheOps.some((op) => op.kind === 'save' || op.kind === 'load'), 'nothing saved from a failed run, so nothing to load');
  assert.deepEqual(after.prefixHits, []);
});

/** Every run of a plan with the tokens it feeds: [id, first, count, promptPath, decode?]. */
function runsOf(plan: StepPlan): Array<[string, number, number, boolean, boolean]> {
  const decodeRows = plan.decode?.rows.filter((row): row is PlannedRun => row.requestId !== null) ?? [];
  return [...plan.prefills.map((run) => [run, false] as const), ...decodeRows.map((run) => [run, true] as const)]
    .map(([run, decode]) => [run.requestId, run.startToken, run.numTokens, run.promptPath, decode]);
}

test('separate prompt path: no run mixes prompt and generated tokens, and a prompt token never joins the decode batch', () => {
  const separate = { ...config, maxPrefillTokens: 64, separatePromptPath: true };
  // A prompt of 65 tokens leaves one prompt token after its first chunk: it is prefilled, not decoded.
  const { scheduler, add, step, tokens } = withPrefixCache(4096, 10_000, separate);
  add('a', range(0, 65));
  assert.deepEqual(runsOf(step()), [['a', 0, 64, true, false]]);
  assert.deepEqual(runsOf(step()), [['a', 64, 1, true, false]], 'the last prompt token runs on the prompt path');
  assert.deepEqual(runsOf(step()), [['a', 65, 1, false, true]], 'generated tokens decode');
  // The same prompt again: the cache holds all but its last token, which is still a prompt token.
  for (let i = 0; i < 3; i++) step();
  scheduler.remove('a');
  add('again', range(0, 65));
  assert.deepEqual(runsOf(step()), [['again', 64, 1, true, false]]);
  // The next turn extends a's prompt and answer: only the prompt part is reused.
  add('turn2', [...tokens.get('again')!.slice(0, 65), ...range(900, 4), ...range(2000, 10)]);
  const turn2 = step();
  assert.deepEqual(turn2.prefixHits.find((hit) => hit.requestId === 'turn2')?.numTokens, 65);
  // Without the separation the same sequence of steps mixes them (the contrast that makes this test able to fail).
  const mixed = withPrefixCache(4096, 10_000, { ...config, maxPrefillTokens: 64 });
  mixed.add('a', range(0, 65));
  mixed.step();
  assert.deepEqual(runsOf(mixed.step()), [['a', 64, 1, true, true]], 'one pending prompt token decodes');
});

test('separate prompt path: a preempted request recomputes its prompt and its generated tokens in separate runs', () => {
  // No prefix cache: the recompute starts from nothing. 3 rows × 64 = 192 tokens at one stride.
  const scheduler = new Scheduler({ ...config, separatePromptPath: true }, new KvCacheManager(192, { maxLongRows: 0 }));
  scheduler.add('old', 50);
  scheduler.add('mid', 20);
  scheduler.add('new', 10);
  const newTokens = new Map([['old', 30], ['mid', 10], ['new', 60]]);
  const preempted: string[] = [];
  const recomputeRuns: Array<[number, number, boolean]> = [];
  const { generated } = drive(scheduler, newTokens, (plan) => {
    preempted.push(...plan.preemptedIds);
    for (const run of plan.prefills) {
      if (run.requestId === 'new' && preempted.includes('new')) recomputeRuns.push([run.startToken, run.numTokens, run.promptPath]);
      if (run.promptPath) assert.ok(run.startToken + run.numTokens <= (run.requestId === 'old' ? 50 : run.requestId === 'mid' ? 20 : 10), 'a prompt-path run stops at the prompt');
    }
    for (const row of plan.decode?.rows ?? []) if (row.requestId) assert.equal((row as PlannedRun).promptPath, false);
    for (const group of plan.prefillGroups) for (const run of group.runs) assert.equal(run.promptPath, group.runs[0]!.promptPath, 'a group is on one path');
  });
  assert.equal(preempted[0], 'new');
  assert.equal(recomputeRuns[0]?.join(), '0,10,true', 'the prompt first, alone');
  assert.equal(recomputeRuns[1]?.[0], 10);
  assert.equal(recomputeRuns[1]?.[2], false, 'then its generated tokens on their own path');
  assert.ok(recomputeRuns[1]![1] > 1);
  for (const [id, count] of newTokens) assert.equal(generated.get(id), count, `${id} still gets all its tokens`);
});
