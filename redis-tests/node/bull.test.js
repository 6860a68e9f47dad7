'use strict';
// A real application against causalkv: the bull job queue (npm, pinned in
// package-lock.json), which runs almost every operation as a Lua script
// (EVALSHA with its EVAL fallback), keeps jobs in hashes, lists and sorted
// sets, and waits with BRPOPLPUSH and pub/sub. A worker runs a job, retries
// a failing one, and runs a delayed one once its delay has passed.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, requireClient } = require('./server');

const Queue = requireClient('bull');

const TEST_TIMEOUT = { timeout: 60000 };

describe('bull', () => {
  let server;
  let queue;

  before(async () => {
    server = await startServer();
    queue = new Queue('work', {
      redis: { host: '127.0.0.1', port: server.port, maxRetriesPerRequest: null },
    });
  });

  after(async () => {
    if (queue) await queue.close();
    if (server) await server.stop();
  });

  it('runs a job, retries a failing one, and runs a delayed one', TEST_TIMEOUT, async () => {
    const attempts = new Map();
    const ranAt = new Map();
    queue.process(async (job) => {
      const n = (attempts.get(job.data.name) || 0) + 1;
      attempts.set(job.data.name, n);
      ranAt.set(job.data.name, Date.now());
      if (job.data.name === 'flaky' && n === 1) throw new Error('first try fails');
      return { sum: job.data.a + job.data.b, attempt: n };
    });

    const plain = await queue.add({ name: 'plain', a: 2, b: 3 });
    const flaky = await queue.add({ name: 'flaky', a: 1, b: 1 },
      { attempts: 2, backoff: { type: 'fixed', delay: 100 } });
    const delayedAt = Date.now();
    const delayed = await queue.add({ name: 'delayed', a: 10, b: 20 }, { delay: 1500 });

    assert.deepEqual(await plain.finished(), { sum: 5, attempt: 1 });
    assert.deepEqual(await flaky.finished(), { sum: 2, attempt: 2 });
    assert.deepEqual(await delayed.finished(), { sum: 30, attempt: 1 });
    assert.ok(ranAt.get('delayed') - delayedAt >= 1400,
      `the delayed job ran after ${ranAt.get('delayed') - delayedAt} ms`);

    const counts = await queue.getJobCounts();
    assert.equal(counts.completed, 3);
    assert.equal(counts.failed, 0);
    const again = await queue.getJob(flaky.id);
    // bull counts the failed attempts here (1 against redis-server too).
    assert.equal(again.attemptsMade, 1);
    assert.match(again.stacktrace[0], /first try fails/);
  });

  it('ends in failed after its last attempt', TEST_TIMEOUT, async () => {
    const doomed = new Queue('doomed', {
      redis: { host: '127.0.0.1', port: server.port, maxRetriesPerRequest: null },
    });
    try {
      doomed.process(async () => { throw new Error('always'); });
      const job = await doomed.add({}, { attempts: 2 });
      await assert.rejects(job.finished(), /always/);
      const counts = await doomed.getJobCounts();
      assert.equal(counts.failed, 1);
      assert.deepEqual(await doomed.getFailed().then((jobs) => jobs.map((j) => j.id)), [job.id]);
    } finally {
      await doomed.close();
    }
  });
});
