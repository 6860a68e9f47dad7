'use strict';
// causalkv driven through node-redis (the npm package `redis`), RESP2 and
// RESP3: connection handshake, AUTH, SELECT, a cache workload, pipelines,
// MULTI/EXEC, a WATCH-based optimistic update, and the seed cart scenario
// through sendCommand().
//
// node-redis with RESP: 3 (the default since v6) sends `HELLO 3 [AUTH ...]
// [SETNAME ...]` and, unlike ioredis, fails the connection when HELLO fails:
// there is no fallback to RESP2.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const {
  startServer, requireClient, sleep, CART_STEPS, CART_FINAL_WITHVERSIONS, CART_MERGE,
} = require('./server');

const redis = requireClient('redis');
const { createClient, WatchError, MultiErrorReply, ErrorReply } = redis;
const NODE_REDIS_VERSION = requireClient('redis/package.json').version;
const CLIENT_VERSION = requireClient('@redis/client/package.json').version;

const TEST_TIMEOUT = { timeout: 30000 };

// Clients with bounded timeouts and no reconnection; unexpected 'error'
// events are collected and asserted empty by closeAll().
function makeFactory() {
  const clients = [];
  const make = (server, opts = {}) => {
    const { socket, ...rest } = opts;
    const c = createClient({
      socket: {
        host: '127.0.0.1', port: server.port, connectTimeout: 5000, reconnectStrategy: false,
        ...socket,
      },
      commandOptions: { timeout: 5000 },
      ...rest,
    });
    c.unexpectedErrors = [];
    c.on('error', (e) => c.unexpectedErrors.push(e));
    clients.push(c);
    return c;
  };
  const factory = async (server, opts) => {
    const c = make(server, opts);
    await c.connect();
    return c;
  };
  factory.make = make;
  factory.closeAll = async () => {
    const errors = [];
    for (const c of clients.splice(0)) {
      if (c.isOpen) await c.close();
      errors.push(...c.unexpectedErrors.map((e) => e.message));
    }
    assert.deepEqual(errors, [], 'unexpected node-redis error events');
  };
  return factory;
}

for (const RESP of [2, 3]) {
  describe(`node-redis ${NODE_REDIS_VERSION} over RESP${RESP}`, TEST_TIMEOUT, () => {
    let server;
    const connect = makeFactory();
    const client = (opts = {}) => connect(server, { RESP, ...opts });

    before(async () => { server = await startServer(); });
    after(async () => {
      await connect.closeAll();
      await server.stop();
    });

    it('handshake negotiates the protocol and records CLIENT SETINFO', async () => {
      const c = await client({ name: `node-redis-resp${RESP}` });
      assert.equal(c.isReady, true);
      assert.equal(await c.ping(), 'PONG');
      const info = await c.clientInfo();
      assert.equal(info.resp, RESP, `CLIENT INFO: ${JSON.stringify(info)}`);
      assert.equal(info.name, `node-redis-resp${RESP}`);
      assert.equal(info.libName, 'node-redis');
      assert.equal(info.libVer, CLIENT_VERSION);
      assert.equal(info.db, 0);
      // HELLO with no argument: node-redis turns the reply into an object.
      const hello = await c.hello();
      assert.equal(hello.server, 'redis', JSON.stringify(hello));
      assert.equal(hello.proto, RESP, JSON.stringify(hello));
      assert.equal(hello.id, info.id);
      assert.equal(hello.mode, 'standalone');
      assert.equal(hello.role, 'master');
      assert.deepEqual(hello.modules, []);
      assert.match(hello.version, /^\d+\.\d+\.\d+$/);
    });

    it(`CONFIG GET reply shape under RESP${RESP}`, async () => {
      const c = await client();
      assert.deepEqual(await c.configGet('databases'), { databases: '16' });
      const raw = await c.sendCommand(['CONFIG', 'GET', 'databases']);
      if (RESP === 3) {
        // A RESP3 map: node-redis maps it to a plain object by default.
        assert.deepEqual({ ...raw }, { databases: '16' }, `raw reply ${JSON.stringify(raw)}`);
        assert.ok(!Array.isArray(raw), 'CONFIG GET under RESP3 must be a map, not an array');
      } else {
        assert.deepEqual(raw, ['databases', '16']);
      }
    });

    it('SELECT: the database option and select() keep databases apart', async () => {
      const db0 = await client();
      const db7 = await client({ database: 7 });
      assert.equal(await db7.set('selected:key', 'in-db-7'), 'OK');
      assert.equal(await db0.exists('selected:key'), 0, 'a key set in db 7 is visible in db 0');
      assert.equal((await db7.clientInfo()).db, 7);
      await db0.select(7);
      assert.equal(await db0.get('selected:key'), 'in-db-7');
      await db0.select(0);
      assert.equal(await db0.get('selected:key'), null);
      await assert.rejects(db0.select(16), (e) => {
        assert.ok(e instanceof ErrorReply, String(e));
        assert.equal(e.message, 'ERR DB index is out of range');
        return true;
      });
    });

    it('cache workload: SET with TTL, GET, MGET, DEL, expiry', async () => {
      const c = await client({ database: 1 });
      const k = `cache:${RESP}`;
      assert.equal(await c.set(`${k}:user:1`, 'alice', { EX: 100 }), 'OK');
      assert.equal(await c.set(`${k}:user:2`, 'bob', { expiration: { type: 'PX', value: 100000 } }),
                   'OK');
      assert.equal(await c.setEx(`${k}:user:3`, 50, 'carol'), 'OK');
      const ttl = await c.ttl(`${k}:user:1`);
      assert.ok(ttl > 95 && ttl <= 100, `TTL after SET EX 100: ${ttl}`);
      const pttl = await c.pTTL(`${k}:user:2`);
      assert.ok(pttl > 95000 && pttl <= 100000, `PTTL after SET PX 100000: ${pttl}`);
      assert.equal(await c.get(`${k}:user:1`), 'alice');
      assert.equal(await c.get(`${k}:missing`), null);
      assert.deepEqual(await c.mGet([`${k}:user:1`, `${k}:missing`, `${k}:user:2`, `${k}:user:3`]),
                       ['alice', null, 'bob', 'carol']);
      assert.equal(await c.set(`${k}:user:1`, 'x', { condition: 'NX' }), null);
      assert.equal(await c.set(`${k}:user:1`, 'alice2', { condition: 'XX', GET: true, KEEPTTL: true }),
                   'alice');
      assert.ok(await c.ttl(`${k}:user:1`) > 95, 'KEEPTTL kept the TTL');
      assert.equal(await c.expire(`${k}:user:3`, 1000), 1);
      assert.equal(await c.persist(`${k}:user:3`), 1);
      assert.equal(await c.ttl(`${k}:user:3`), -1);
      assert.equal(await c.set(`${k}:short`, 'gone soon', { PX: 150 }), 'OK');
      assert.equal(await c.exists(`${k}:short`), 1);
      await sleep(400);
      assert.equal(await c.get(`${k}:short`), null);
      assert.equal(await c.ttl(`${k}:short`), -2);
      assert.equal(await c.del([`${k}:user:1`, `${k}:user:2`, `${k}:missing`]), 2);
      assert.deepEqual(await c.mGet([`${k}:user:1`, `${k}:user:2`, `${k}:user:3`]),
                       [null, null, 'carol']);
      assert.equal(await c.incrBy(`${k}:hits`, 5), 5);
      assert.equal(await c.incr(`${k}:hits`), 6);
      assert.equal(await c.incrByFloat(`${k}:hits`, 0.5), '6.5');
    });

    it('SCAN iteration with scanIterator(MATCH, COUNT) returns every key', async () => {
      const c = await client({ database: 2 });
      const expected = new Set();
      const writes = [];
      for (let i = 0; i < 300; i++) {
        writes.push(c.set(`scan:item:${i}`, String(i))); // auto-pipelined
        expected.add(`scan:item:${i}`);
      }
      for (let i = 0; i < 40; i++) writes.push(c.set(`scan:other:${i}`, 'x'));
      assert.ok((await Promise.all(writes)).every((r) => r === 'OK'));

      const seen = new Set();
      let pages = 0;
      for await (const keys of c.scanIterator({ MATCH: 'scan:item:*', COUNT: 25 })) {
        pages++;
        for (const key of keys) seen.add(key);
      }
      assert.deepEqual([...seen].sort(), [...expected].sort());
      assert.ok(pages > 3, `expected several SCAN round trips with COUNT 25, got ${pages}`);
      const reply = await c.scan('0', { MATCH: 'scan:other:*', COUNT: 1000 });
      assert.equal(reply.cursor, '0');
      assert.equal(reply.keys.length, 40);
      assert.equal(await c.dbSize(), 340);
    });

    it('pipeline without a transaction (execAsPipeline): replies in order', async () => {
      const c = await client({ database: 3 });
      const replies = await c.multi()
        .set('p:a', '1')
        .incr('p:a')
        .get('p:a')
        .mGet(['p:a', 'p:none'])
        .addCommand(['VPUT', 'p:v', '0', 'first'])
        .execAsPipeline();
      assert.equal(replies.length, 5);
      assert.deepEqual(replies.slice(0, 4), ['OK', 2, '2', ['2', null]]);
      const [version, siblings] = replies[4];
      assert.ok(Number.isInteger(version) && version > 0, `VPUT version ${version}`);
      assert.deepEqual(siblings, ['first']);

      // An error in a pipeline fails that command only: the later ones ran.
      await c.set('p:s', 'text');
      await assert.rejects(
        c.multi().incr('p:s').set('p:after', 'ran').execAsPipeline(),
        /ERR value is not an integer or out of range/);
      assert.equal(await c.get('p:after'), 'ran');

      const big = c.multi();
      for (let i = 0; i < 250; i++) big.set(`p:n:${i}`, `v${i}`).get(`p:n:${i}`);
      const out = await big.execAsPipeline();
      assert.equal(out.length, 500);
      for (let i = 0; i < 250; i++) {
        assert.equal(out[2 * i], 'OK');
        assert.equal(out[2 * i + 1], `v${i}`);
      }
    });

    it('MULTI/EXEC: queued results, EXECABORT, runtime errors per command', async () => {
      const c = await client({ database: 4 });
      const replies = await c.multi()
        .set('tx:a', '10')
        .incrBy('tx:a', 5)
        .get('tx:a')
        .addCommand(['VPUT', 'tx:cart', '0', 'milk'])
        .exec();
      assert.equal(replies.length, 4);
      assert.deepEqual(replies.slice(0, 3), ['OK', 15, '15']);
      assert.deepEqual(replies[3][1], ['milk']);

      // A runtime error inside EXEC fails its own command only.
      await assert.rejects(
        c.multi().set('tx:s', 'text').incr('tx:s').set('tx:after', 'ran').exec(),
        (e) => {
          assert.ok(e instanceof MultiErrorReply, `expected MultiErrorReply, got ${e}`);
          assert.deepEqual(e.errorIndexes, [1]);
          assert.equal(e.replies[0], 'OK');
          assert.equal(e.replies[1].message, 'ERR value is not an integer or out of range');
          assert.equal(e.replies[2], 'OK');
          return true;
        });
      assert.equal(await c.get('tx:after'), 'ran');

      // A queue-time error (wrong arity) aborts the whole transaction.
      // node-redis rejects with the first error of the chain (the GET's), the
      // EXECABORT that follows it is checked with raw commands below.
      await assert.rejects(
        c.multi().set('tx:never', '1').addCommand(['GET']).exec(),
        /ERR wrong number of arguments for 'get' command/);
      assert.equal(await c.exists('tx:never'), 0, 'EXECABORT must not run the queued SET');
      assert.equal(await c.ping(), 'PONG');

      const raw = await client({ database: 4 });
      assert.equal(await raw.sendCommand(['MULTI']), 'OK');
      assert.equal(await raw.sendCommand(['SET', 'tx:never', '1']), 'QUEUED');
      await assert.rejects(raw.sendCommand(['GET']),
                           /ERR wrong number of arguments for 'get' command/);
      await assert.rejects(raw.sendCommand(['EXEC']),
                           /^\[?.*EXECABORT Transaction discarded because of previous errors/);
      assert.equal(await raw.exists('tx:never'), 0, 'EXECABORT must not run the queued SET');
      // MULTI + DISCARD.
      assert.equal(await raw.sendCommand(['MULTI']), 'OK');
      assert.equal(await raw.sendCommand(['SET', 'tx:discarded', '1']), 'QUEUED');
      assert.equal(await raw.sendCommand(['DISCARD']), 'OK');
      assert.equal(await raw.exists('tx:discarded'), 0);
    });

    it('WATCH: optimistic update aborted by a concurrent write, then retried', async () => {
      const a = await client({ database: 6 });
      const b = await client({ database: 6 });
      await a.set('stock', '10');

      const outcomes = [];
      for (let attempt = 1; attempt <= 5; attempt++) {
        assert.equal(await a.watch('stock'), 'OK');
        const current = Number(await a.get('stock'));
        if (attempt === 1) assert.equal(await b.incrBy('stock', 100), 110);
        try {
          outcomes.push(await a.multi().set('stock', String(current - 1)).exec());
          break;
        } catch (e) {
          assert.ok(e instanceof WatchError, `expected WatchError, got ${e}`);
          outcomes.push('aborted');
        }
      }
      assert.deepEqual(outcomes, ['aborted', ['OK']]);
      assert.equal(await b.get('stock'), '109', 'the retry started from the concurrent write');

      // UNWATCH forgets the watched keys.
      assert.equal(await a.watch('stock'), 'OK');
      assert.equal(await a.unwatch(), 'OK');
      await b.set('stock', '1');
      assert.deepEqual(await a.multi().get('stock').exec(), ['1']);

      // A VPUT by another client is a modification too.
      await a.sendCommand(['VPUT', 'vcart', '0', 'milk']);
      assert.equal(await a.watch('vcart'), 'OK');
      await b.sendCommand(['VPUT', 'vcart', '0', 'eggs']);
      await assert.rejects(a.multi().addCommand(['VPUT', 'vcart', '0', 'ham']).exec(), WatchError);
      const [, siblings] = await a.sendCommand(['VGET', 'vcart']);
      assert.deepEqual(siblings, ['milk', 'eggs']);
    });

    it('seed cart scenario (DDIA figure 5-13) through sendCommand(), exact replies', async () => {
      const fresh = await startServer(); // the versions 1..5 need a fresh counter
      const cartClient = makeFactory();
      try {
        const c = await cartClient(fresh, { RESP });
        assert.deepEqual(await c.sendCommand(['VGET', 'cart']), [0, []]);
        for (const [args, expected] of CART_STEPS) {
          assert.deepEqual(await c.sendCommand(args), expected, args.join(' '));
        }
        assert.deepEqual(await c.sendCommand(['VGET', 'cart']), CART_STEPS[4][1]);
        assert.deepEqual(await c.sendCommand(['VGET', 'cart', 'WITHVERSIONS']),
                         CART_FINAL_WITHVERSIONS);
        assert.equal(await c.get('cart'), 'milk flour eggs bacon');
        assert.deepEqual(await c.sendCommand(CART_MERGE[0]), CART_MERGE[1]);
        await assert.rejects(c.sendCommand(['VPUT', 'cart', '99', 'x']), ErrorReply);
        assert.deepEqual(await c.sendCommand(['VGET', 'cart']), CART_MERGE[1]);
      } finally {
        await cartClient.closeAll();
        await fresh.stop();
      }
    });
  });

  describe(`node-redis ${NODE_REDIS_VERSION} over RESP${RESP} with requirepass`, TEST_TIMEOUT, () => {
    let server;
    const connect = makeFactory();
    before(async () => { server = await startServer(['--requirepass', 's3cret pw']); });
    after(async () => {
      await connect.closeAll();
      await server.stop();
    });

    it('the password option authenticates (SELECT in the same handshake)', async () => {
      const c = await connect(server, { RESP, password: 's3cret pw', database: 2 });
      assert.equal(await c.set('authed', 'yes'), 'OK');
      const info = await c.clientInfo();
      assert.equal(info.db, 2);
      assert.equal(info.resp, RESP);
      assert.equal(info.user, 'default');
    });

    it('a URL with the password authenticates too', async () => {
      const c = createClient({
        url: `redis://:${encodeURIComponent('s3cret pw')}@127.0.0.1:${server.port}/3`,
        RESP,
        socket: { connectTimeout: 5000, reconnectStrategy: false },
      });
      c.on('error', () => {});
      await c.connect();
      try {
        assert.equal((await c.clientInfo()).db, 3);
      } finally {
        await c.close();
      }
    });

    it('without a password commands fail with NOAUTH', async () => {
      // RESP2 only: a HELLO 3 without AUTH is refused by the server itself.
      const c = await connect(server, { RESP: 2, disableClientInfo: true });
      await assert.rejects(c.get('authed'), /^\[?.*NOAUTH Authentication required/);
      await assert.rejects(c.auth({ password: 'wrong' }),
                           /WRONGPASS invalid username-password pair or user is disabled/);
      assert.equal(await c.auth({ password: 's3cret pw' }), 'OK');
      assert.equal(await c.ping(), 'PONG');
    });

    it('a wrong password fails the connection', async () => {
      const c = connect.make(server, { RESP, password: 'wrong' });
      await assert.rejects(c.connect(), /WRONGPASS/);
      c.unexpectedErrors.length = 0; // the WRONGPASS is expected here
      if (c.isOpen) c.destroy();
    });
  });
}
