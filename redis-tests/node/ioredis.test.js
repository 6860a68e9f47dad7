'use strict';
// causalkv driven through ioredis (npm), RESP2 and RESP3: connection
// handshake, AUTH, SELECT, a cache workload, pipelines, MULTI/EXEC, a
// WATCH-based optimistic update, and the seed cart scenario through call().
//
// ioredis 6 sends `HELLO 3 [AUTH default pw]` on connect (protocol: 3, the
// default) and silently falls back to RESP2 only on NOPROTO / unknown
// command, so every RESP3 test checks that the server really agreed to RESP3.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const {
  startServer, requireClient, sleep, CART_STEPS, CART_FINAL_WITHVERSIONS, CART_MERGE,
} = require('./server');

const Redis = requireClient('ioredis');
const IOREDIS_VERSION = requireClient('ioredis/package.json').version;

const TEST_TIMEOUT = { timeout: 30000 };

// A connected client with bounded timeouts and no reconnection, so a broken
// server fails the test instead of hanging it. Unexpected 'error' events are
// collected and asserted empty by closeAll().
function makeFactory() {
  const clients = [];
  const factory = async (server, opts = {}) => {
    const r = new Redis({
      host: '127.0.0.1',
      port: server.port,
      lazyConnect: true,
      connectTimeout: 5000,
      commandTimeout: 5000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      ...opts,
    });
    r.unexpectedErrors = [];
    r.on('error', (e) => r.unexpectedErrors.push(e));
    clients.push(r);
    await r.connect();
    return r;
  };
  factory.closeAll = async () => {
    const errors = [];
    for (const r of clients.splice(0)) {
      if (r.status === 'ready') await r.quit();
      r.disconnect();
      errors.push(...r.unexpectedErrors.map((e) => e.message));
    }
    assert.deepEqual(errors, [], 'unexpected ioredis error events');
  };
  return factory;
}

for (const protocol of [2, 3]) {
  describe(`ioredis ${IOREDIS_VERSION} over RESP${protocol}`, TEST_TIMEOUT, () => {
    let server;
    const connect = makeFactory();
    const client = (opts = {}) => connect(server, { protocol, ...opts });

    before(async () => { server = await startServer(); });
    after(async () => {
      await connect.closeAll();
      await server.stop();
    });

    it('handshake negotiates the protocol and records CLIENT SETINFO', async () => {
      const r = await client({ connectionName: `ioredis-resp${protocol}` });
      assert.equal(await r.ping(), 'PONG');
      const info = await r.client('INFO');
      assert.match(info, new RegExp(`(^| )resp=${protocol}(\\s|$)`),
                   `CLIENT INFO after connecting with protocol ${protocol}: ${info}`);
      assert.match(info, / name=ioredis-resp\d /, info);
      assert.match(info, / lib-name=ioredis /, info);
      assert.match(info, new RegExp(` lib-ver=${IOREDIS_VERSION.replace(/\./g, '\\.')}(\\s|$)`), info);
      // HELLO with no argument reports the current protocol; under the default
      // "legacy" reply mapping the RESP3 map comes back as a flat array.
      const hello = await r.call('HELLO');
      const fields = {};
      for (let i = 0; i < hello.length; i += 2) fields[hello[i]] = hello[i + 1];
      assert.equal(fields.server, 'redis', `HELLO: ${JSON.stringify(hello)}`);
      assert.equal(fields.proto, protocol, `HELLO: ${JSON.stringify(hello)}`);
      assert.equal(fields.mode, 'standalone');
      assert.equal(fields.role, 'master');
      assert.deepEqual(fields.modules, []);
    });

    if (protocol === 3) {
      it('replyMapping "resp3" turns RESP3 maps into objects (CONFIG GET)', async () => {
        const r = await client({ replyMapping: 'resp3' });
        assert.deepEqual(await r.config('GET', 'databases'), { databases: '16' });
        const legacy = await client();
        assert.deepEqual(await legacy.config('GET', 'databases'), ['databases', '16']);
      });
    } else {
      it('CONFIG GET is a flat array', async () => {
        const r = await client();
        assert.deepEqual(await r.config('GET', 'databases'), ['databases', '16']);
      });
    }

    it('SELECT: the db option and select() keep databases apart', async () => {
      const db0 = await client();
      const db5 = await client({ db: 5 });
      assert.equal(await db5.set('selected:key', 'in-db-5'), 'OK');
      assert.equal(await db5.get('selected:key'), 'in-db-5');
      assert.equal(await db0.exists('selected:key'), 0, 'a key set in db 5 is visible in db 0');
      assert.match(await db5.client('INFO'), / db=5 /);
      assert.equal(await db0.select(5), 'OK');
      assert.equal(await db0.get('selected:key'), 'in-db-5');
      assert.equal(await db0.select(0), 'OK');
      assert.equal(await db0.get('selected:key'), null);
      await assert.rejects(db0.select(16), /ERR DB index is out of range/);
    });

    it('cache workload: SET with TTL, GET, MGET, DEL, expiry', async () => {
      const r = await client({ db: 1 });
      const k = `cache:${protocol}`;
      assert.equal(await r.set(`${k}:user:1`, 'alice', 'EX', 100), 'OK');
      assert.equal(await r.set(`${k}:user:2`, 'bob', 'PX', 100000), 'OK');
      assert.equal(await r.setex(`${k}:user:3`, 50, 'carol'), 'OK');
      const ttl = await r.ttl(`${k}:user:1`);
      assert.ok(ttl > 95 && ttl <= 100, `TTL after SET EX 100: ${ttl}`);
      const pttl = await r.pttl(`${k}:user:2`);
      assert.ok(pttl > 95000 && pttl <= 100000, `PTTL after SET PX 100000: ${pttl}`);
      assert.equal(await r.get(`${k}:user:1`), 'alice');
      assert.equal(await r.get(`${k}:missing`), null);
      assert.deepEqual(await r.mget(`${k}:user:1`, `${k}:missing`, `${k}:user:2`, `${k}:user:3`),
                       ['alice', null, 'bob', 'carol']);
      // NX/XX/GET options and KEEPTTL.
      assert.equal(await r.set(`${k}:user:1`, 'x', 'NX'), null);
      assert.equal(await r.set(`${k}:user:1`, 'alice2', 'XX', 'KEEPTTL', 'GET'), 'alice');
      assert.ok(await r.ttl(`${k}:user:1`) > 95, 'KEEPTTL kept the TTL');
      assert.equal(await r.persist(`${k}:user:3`), 1);
      assert.equal(await r.ttl(`${k}:user:3`), -1);
      // A short TTL really expires.
      assert.equal(await r.set(`${k}:short`, 'gone soon', 'PX', 150), 'OK');
      assert.equal(await r.exists(`${k}:short`), 1);
      await sleep(400);
      assert.equal(await r.get(`${k}:short`), null);
      assert.equal(await r.ttl(`${k}:short`), -2);
      // DEL counts only existing keys.
      assert.equal(await r.del(`${k}:user:1`, `${k}:user:2`, `${k}:missing`), 2);
      assert.deepEqual(await r.mget(`${k}:user:1`, `${k}:user:2`, `${k}:user:3`),
                       [null, null, 'carol']);
      assert.equal(await r.incrby(`${k}:hits`, 5), 5);
      assert.equal(await r.incr(`${k}:hits`), 6);
    });

    it('SCAN iteration with scanStream(match, count) returns every key', async () => {
      const r = await client({ db: 2 });
      const expected = new Set();
      const batch = r.pipeline();
      for (let i = 0; i < 300; i++) {
        batch.set(`scan:item:${i}`, String(i));
        expected.add(`scan:item:${i}`);
      }
      for (let i = 0; i < 40; i++) batch.set(`scan:other:${i}`, 'x');
      const results = await batch.exec();
      assert.ok(results.every(([err, v]) => err === null && v === 'OK'), 'pipelined SETs');

      const seen = new Set();
      let pages = 0;
      await new Promise((resolve, reject) => {
        const stream = r.scanStream({ match: 'scan:item:*', count: 25 });
        stream.on('data', (keys) => {
          pages++;
          for (const key of keys) seen.add(key);
        });
        stream.on('end', resolve);
        stream.on('error', reject);
      });
      assert.deepEqual([...seen].sort(), [...expected].sort());
      assert.ok(pages > 3, `expected several SCAN round trips with COUNT 25, got ${pages}`);
      // The raw cursor interface: first reply is [cursor, keys].
      const [cursor, keys] = await r.scan(0, 'MATCH', 'scan:other:*', 'COUNT', 1000);
      assert.equal(cursor, '0');
      assert.equal(keys.length, 40);
    });

    it('pipeline without a transaction: replies in order, errors per command', async () => {
      const r = await client({ db: 3 });
      const results = await r.pipeline()
        .set('p:a', '1')
        .incr('p:a')
        .set('p:s', 'text')
        .incr('p:s') // fails, the rest still runs
        .get('p:a')
        .mget('p:a', 'p:s', 'p:none')
        .call('VPUT', 'p:v', '0', 'first')
        .exec();
      assert.equal(results.length, 7);
      assert.deepEqual(results[0], [null, 'OK']);
      assert.deepEqual(results[1], [null, 2]);
      assert.deepEqual(results[2], [null, 'OK']);
      assert.ok(results[3][0] instanceof Error, `INCR on text: ${results[3]}`);
      assert.equal(results[3][0].message, 'ERR value is not an integer or out of range');
      assert.deepEqual(results[4], [null, '2']);
      assert.deepEqual(results[5], [null, ['2', 'text', null]]);
      const [vErr, [version, siblings]] = results[6];
      assert.equal(vErr, null);
      assert.ok(Number.isInteger(version) && version > 0, `VPUT version ${version}`);
      assert.deepEqual(siblings, ['first']);

      // A larger pipeline: 500 commands, replies in order.
      const big = r.pipeline();
      for (let i = 0; i < 250; i++) big.set(`p:n:${i}`, `v${i}`).get(`p:n:${i}`);
      const out = await big.exec();
      assert.equal(out.length, 500);
      for (let i = 0; i < 250; i++) {
        assert.deepEqual(out[2 * i], [null, 'OK']);
        assert.deepEqual(out[2 * i + 1], [null, `v${i}`]);
      }
    });

    it('MULTI/EXEC: queued results, EXECABORT, runtime errors per command, DISCARD', async () => {
      const r = await client({ db: 4 });
      const ok = await r.multi()
        .set('tx:a', '10')
        .incrby('tx:a', 5)
        .get('tx:a')
        .call('VPUT', 'tx:cart', '0', 'milk')
        .exec();
      assert.equal(ok.length, 4);
      assert.deepEqual(ok[0], [null, 'OK']);
      assert.deepEqual(ok[1], [null, 15]);
      assert.deepEqual(ok[2], [null, '15']);
      assert.equal(ok[3][0], null);
      assert.deepEqual(ok[3][1][1], ['milk']);

      // A runtime error inside EXEC fails only its own command.
      const mixed = await r.multi().set('tx:s', 'text').incr('tx:s').set('tx:after', 'ran').exec();
      assert.deepEqual(mixed[0], [null, 'OK']);
      assert.ok(mixed[1][0] instanceof Error);
      assert.equal(mixed[1][0].message, 'ERR value is not an integer or out of range');
      assert.deepEqual(mixed[2], [null, 'OK']);
      assert.equal(await r.get('tx:after'), 'ran');

      // An error at queue time (wrong arity) aborts the whole transaction.
      await assert.rejects(
        r.multi().set('tx:never', '1').call('GET').exec(),
        (e) => {
          assert.match(e.message, /EXECABORT Transaction discarded because of previous errors/);
          return true;
        });
      assert.equal(await r.exists('tx:never'), 0, 'EXECABORT must not run the queued SET');

      // MULTI + DISCARD through the raw interface.
      const raw = await client({ db: 4 });
      assert.equal(await raw.call('MULTI'), 'OK');
      assert.equal(await raw.call('SET', 'tx:discarded', '1'), 'QUEUED');
      assert.equal(await raw.call('DISCARD'), 'OK');
      assert.equal(await raw.exists('tx:discarded'), 0);
      // The connection is usable after all of it.
      assert.equal(await r.ping(), 'PONG');
    });

    it('WATCH: optimistic update aborted by a concurrent write, then retried', async () => {
      const a = await client({ db: 6 });
      const b = await client({ db: 6 });
      assert.equal(await a.set('stock', '10'), 'OK');

      // Client A reads, B writes in between, A's EXEC must be aborted (null),
      // then A retries on the new value and succeeds.
      const attempts = [];
      for (let attempt = 1; attempt <= 5; attempt++) {
        assert.equal(await a.watch('stock'), 'OK');
        const current = Number(await a.get('stock'));
        if (attempt === 1) assert.equal(await b.incrby('stock', 100), 110);
        const res = await a.multi().set('stock', String(current - 1)).exec();
        attempts.push(res);
        if (res !== null) break;
      }
      assert.equal(attempts.length, 2, `attempts: ${JSON.stringify(attempts)}`);
      assert.equal(attempts[0], null, 'EXEC after a concurrent write to a watched key');
      assert.deepEqual(attempts[1], [[null, 'OK']]);
      assert.equal(await b.get('stock'), '109', 'the retry started from the concurrent write');

      // UNWATCH forgets the watched keys.
      assert.equal(await a.watch('stock'), 'OK');
      assert.equal(await a.unwatch(), 'OK');
      await b.set('stock', '1');
      assert.deepEqual(await a.multi().get('stock').exec(), [[null, '1']]);

      // A VPUT by another client is a modification too.
      await a.call('VPUT', 'vcart', '0', 'milk');
      assert.equal(await a.watch('vcart'), 'OK');
      await b.call('VPUT', 'vcart', '0', 'eggs');
      assert.equal(await a.multi().call('VPUT', 'vcart', '0', 'ham').exec(), null);
      const [, siblings] = await a.call('VGET', 'vcart');
      assert.deepEqual(siblings, ['milk', 'eggs']);
    });

    it('seed cart scenario (DDIA figure 5-13) through call(), exact replies', async () => {
      const fresh = await startServer(); // the versions 1..5 need a fresh counter
      const cartClient = makeFactory();
      try {
        const r = await cartClient(fresh, { protocol });
        assert.deepEqual(await r.call('VGET', 'cart'), [0, []]);
        for (const [args, expected] of CART_STEPS) {
          assert.deepEqual(await r.call(...args), expected, args.join(' '));
        }
        assert.deepEqual(await r.call('VGET', 'cart'), CART_STEPS[4][1]);
        assert.deepEqual(await r.call('VGET', 'cart', 'WITHVERSIONS'), CART_FINAL_WITHVERSIONS);
        assert.equal(await r.get('cart'), 'milk flour eggs bacon');
        assert.deepEqual(await r.call(...CART_MERGE[0]), CART_MERGE[1]);
        // Buffers round-trip through callBuffer as well.
        const [version, values] = await r.callBuffer('VGET', 'cart');
        assert.equal(version, 6);
        assert.ok(Buffer.isBuffer(values[0]));
        assert.equal(values[0].toString(), 'milk flour eggs bacon ham');
        // A stale version is an error and changes nothing.
        await assert.rejects(r.call('VPUT', 'cart', '99', 'x'), /ERR/);
        assert.deepEqual(await r.call('VGET', 'cart'), CART_MERGE[1]);
      } finally {
        await cartClient.closeAll();
        await fresh.stop();
      }
    });
  });

  describe(`ioredis ${IOREDIS_VERSION} over RESP${protocol} with requirepass`, TEST_TIMEOUT, () => {
    let server;
    const connect = makeFactory();
    before(async () => { server = await startServer(['--requirepass', 's3cret pw']); });
    after(async () => {
      await connect.closeAll();
      await server.stop();
    });

    it('the password option authenticates (with SELECT in the handshake)', async () => {
      const r = await connect(server, { protocol, password: 's3cret pw', db: 2 });
      assert.equal(await r.set('authed', 'yes'), 'OK');
      assert.equal(await r.get('authed'), 'yes');
      const info = await r.client('INFO');
      assert.match(info, / db=2 /, info);
      assert.match(info, new RegExp(` resp=${protocol}(\\s|$)`), info);
      assert.match(info, / user=default /, info);
    });

    it('without a password commands fail with NOAUTH; AUTH later works', async () => {
      const opts = { protocol: 2, enableReadyCheck: false };
      const r = await connect(server, opts);
      await assert.rejects(r.get('authed'), /^ReplyError: NOAUTH Authentication required/);
      await assert.rejects(r.auth('wrong'), /WRONGPASS invalid username-password pair or user is disabled/);
      assert.equal(await r.auth('s3cret pw'), 'OK');
      assert.equal(await r.ping(), 'PONG');
      assert.equal(await r.auth('default', 's3cret pw'), 'OK');
    });

    it('a wrong password fails the connection', async () => {
      const r = new Redis({
        host: '127.0.0.1', port: server.port, protocol, password: 'wrong', lazyConnect: true,
        connectTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null,
      });
      const errors = [];
      r.on('error', (e) => errors.push(e.message));
      try {
        await assert.rejects(r.connect(), /WRONGPASS|Connection is closed/);
        assert.ok(errors.some((m) => /WRONGPASS/.test(m)),
                  `expected a WRONGPASS error event, got ${JSON.stringify(errors)}`);
      } finally {
        r.disconnect();
      }
    });
  });
}
