'use strict';
// causalkv's leaderless cluster driven through ioredis: three nodes started
// here, each on its own loopback address, and ioredis clients on different
// nodes running the read-merge-write loop on one cart concurrently, some
// reading through one node and writing the merge through another with the
// context the first one gave. Checks that no acknowledged item is lost, that
// every node converges to the same reply, and that a final merge leaves one
// sibling.
//
// Addresses are 127.A.B.1-3 with A.B derived from this process's pid, in a
// range (A = 220..254) that cluster_harness.py (A = 20..219) never uses, so
// parallel test processes never share an address. Every node runs under
// `setpriv --pdeathsig SIGKILL` when available, is killed by the after()
// hook (also when a test failed) and at process exit.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { requireClient, sleep } = require('./server');

const Redis = requireClient('ioredis');
const IOREDIS_VERSION = requireClient('ioredis/package.json').version;

const SIZE = 3;
const SECRET = 'node-test-peer-secret';
const READY_TIMEOUT_MS = 15000;
const LINKS_TIMEOUT_MS = 15000;
const CONVERGE_TIMEOUT_MS = 20000;
const ITERATIONS = 30;

const live = new Set(); // child processes not yet seen exiting
process.on('exit', () => {
  for (const proc of live) {
    try { proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

function serverBinary() {
  const bin = process.env.CAUSALKV_SERVER;
  if (!bin) {
    throw new Error('CAUSALKV_SERVER is not set: run through ctest, or export ' +
                    'CAUSALKV_SERVER=/path/to/causalkv-server');
  }
  fs.accessSync(bin, fs.constants.X_OK);
  return bin;
}

function addressPrefix() {
  const pid = process.pid;
  return `127.${220 + ((pid >> 8) % 35)}.${pid % 256}`;
}

function freePort(host) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

let pdeathsigWrapper;
function wrapperArgv() {
  if (pdeathsigWrapper === undefined) {
    const r = spawnSync('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'true']);
    pdeathsigWrapper = r.status === 0 ? ['setpriv', '--pdeathsig', 'SIGKILL', '--'] : [];
  }
  return pdeathsigWrapper;
}

// One PING over a raw socket; resolves true on +PONG.
function pingOnce(host, port) {
  return new Promise((resolve) => {
    const sock = net.createConnection({ host, port });
    let data = '';
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(2000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n')) done(data === '+PONG\r\n');
    });
  });
}

class Node {
  constructor(cluster, index) {
    this.index = index;
    this.host = `${cluster.prefix}.${index + 1}`;
    this.port = cluster.port;
    this.addr = `${this.host}:${this.port}`;
    this.dir = path.join(cluster.base, `node${index}`);
    this.logPath = path.join(cluster.base, `node${index}.log`);
    fs.mkdirSync(this.dir, { recursive: true });
    const peers = [];
    for (let j = 0; j < SIZE; j++) {
      if (j !== index) peers.push(`${cluster.prefix}.${j + 1}:${cluster.port}`);
    }
    this.argv = [...wrapperArgv(), serverBinary(), '--port', String(this.port),
                 '--bind', this.host, '--dir', this.dir, '--peer-secret', SECRET,
                 '--peers', ...peers, '--peer-timeout', '400', '--anti-entropy-interval', '300'];
    const log = fs.openSync(this.logPath, 'a');
    this.proc = spawn(this.argv[0], this.argv.slice(1), { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    live.add(this.proc);
    this.exitCode = undefined;
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exitCode = code !== null ? code : `signal ${signal}`;
        live.delete(this.proc);
        resolve(this.exitCode);
      });
    });
  }

  logTail(limit = 3000) {
    try {
      return fs.readFileSync(this.logPath, 'utf8').slice(-limit);
    } catch {
      return '(no log)';
    }
  }

  // true once PING answers, false if the process exited first.
  async waitReady() {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.exitCode !== undefined) return false;
      if (await pingOnce(this.host, this.port)) return true;
      await sleep(50);
    }
    throw new Error(`node ${this.addr} did not answer PING within ${READY_TIMEOUT_MS} ms\n` +
                    `log:\n${this.logTail()}`);
  }

  async kill() {
    if (this.exitCode === undefined) {
      try { this.proc.kill('SIGKILL'); } catch { /* already gone */ }
      let timer;
      const timeout = new Promise((resolve) => { timer = setTimeout(resolve, 10000); });
      await Promise.race([this.exited, timeout]);
      clearTimeout(timer);
    }
  }
}

class Cluster {
  static async start() {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'causalkv-node-cluster-'));
    const prefix = addressPrefix();
    let failure;
    for (let attempt = 0; attempt < 3; attempt++) {
      const cluster = new Cluster(base, prefix, await freePort(`${prefix}.1`), attempt);
      try {
        const ready = await Promise.all(cluster.nodes.map((n) => n.waitReady()));
        if (ready.every(Boolean)) {
          await cluster.waitLinksUp();
          return cluster;
        }
        // A node exited before answering: most likely its port was taken.
        failure = cluster.nodes.filter((n) => n.exitCode !== undefined)
          .map((n) => `${n.addr} exited (${n.exitCode}): ${n.argv.join(' ')}\n${n.logTail()}`)
          .join('\n');
        await cluster.killAll();
      } catch (e) {
        await cluster.close();
        throw e;
      }
    }
    fs.rmSync(base, { recursive: true, force: true });
    throw new Error(`the cluster did not start in 3 attempts:\n${failure}`);
  }

  // root: the temp dir (removed by close()); each attempt gets its own subdir.
  constructor(root, prefix, port, attempt) {
    this.root = root;
    this.base = path.join(root, `attempt${attempt}`);
    this.prefix = prefix;
    this.port = port;
    this.clients = [];
    this.nodes = [];
    fs.mkdirSync(this.base);
    for (let i = 0; i < SIZE; i++) this.nodes.push(new Node(this, i));
  }

  // A connected ioredis client on a node: bounded timeouts, no reconnection,
  // 'error' events collected (asserted empty by close()).
  async client(node, opts = {}) {
    const r = new Redis({
      host: node.host,
      port: node.port,
      lazyConnect: true,
      connectTimeout: 5000,
      commandTimeout: 10000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      ...opts,
    });
    r.unexpectedErrors = [];
    r.on('error', (e) => r.unexpectedErrors.push(e));
    this.clients.push(r);
    await r.connect();
    return r;
  }

  // The `peerN:addr=...,link=...` lines of INFO peers, as {addr: link}.
  static async links(r) {
    const info = await r.info('peers');
    const links = {};
    for (const line of info.split('\r\n')) {
      const m = /^peer\d+:(.*)$/.exec(line);
      if (!m) continue;
      const fields = Object.fromEntries(m[1].split(',').map((kv) => {
        const i = kv.indexOf('=');
        return [kv.slice(0, i), kv.slice(i + 1)];
      }));
      links[fields.addr] = fields.link;
    }
    return links;
  }

  async waitLinksUp() {
    const conns = await Promise.all(this.nodes.map((n) => this.client(n)));
    const deadline = Date.now() + LINKS_TIMEOUT_MS;
    let last;
    while (Date.now() < deadline) {
      last = await Promise.all(conns.map((r) => Cluster.links(r)));
      const up = this.nodes.every((n, i) => this.nodes.every(
        (o) => o === n || last[i][o.addr] === 'up'));
      if (up) return;
      await sleep(50);
    }
    throw new Error(`peer links did not come up within ${LINKS_TIMEOUT_MS} ms: ` +
                    JSON.stringify(last));
  }

  // Local (R 1) VGET replies of every node, polled until they are all equal.
  async waitConverged(key) {
    const readers = await Promise.all(this.nodes.map((n) => this.client(n)));
    const deadline = Date.now() + CONVERGE_TIMEOUT_MS;
    let replies;
    while (Date.now() < deadline) {
      replies = await Promise.all(readers.map((r) => r.call('VGET', key, 'R', '1')));
      const same = replies.every((x) => JSON.stringify(x) === JSON.stringify(replies[0]));
      if (same) return replies[0];
      await sleep(100);
    }
    throw new Error(`nodes did not converge on ${key} within ${CONVERGE_TIMEOUT_MS} ms: ` +
                    JSON.stringify(replies));
  }

  async killAll() {
    for (const r of this.clients.splice(0)) r.disconnect();
    await Promise.all(this.nodes.map((n) => n.kill()));
  }

  // Kills every node and removes every directory; the unexpected client
  // errors seen, if any, are thrown after the cleanup.
  async close() {
    const errors = [];
    for (const r of this.clients) {
      errors.push(...r.unexpectedErrors.map((e) => `${r.options.host}: ${e.message}`));
    }
    try {
      await this.killAll();
    } finally {
      fs.rmSync(this.root, { recursive: true, force: true });
    }
    assert.deepEqual(errors, [], 'unexpected ioredis error events');
  }
}

// The cart items in a list of sibling values ("a,b,c").
function itemsOf(values) {
  const out = new Set();
  for (const v of values) {
    if (v) for (const item of v.split(',')) out.add(item);
  }
  return out;
}

const sorted = (set) => [...set].sort();

describe(`ioredis ${IOREDIS_VERSION} against a ${SIZE}-node cluster`, { timeout: 120000 }, () => {
  let cluster;

  before(async () => { cluster = await Cluster.start(); });
  after(async () => {
    if (cluster) await cluster.close();
  });

  it('read-merge-write through different nodes, concurrently, loses nothing', async (t) => {
    const nodes = cluster.nodes;
    // Clients 0..SIZE-1 stay on node i; clients SIZE..2*SIZE-1 read through
    // node (i+n) and write the merge through node (i+n+1), so every ordered
    // pair of nodes carries a token from one node to another. RESP2 and RESP3
    // clients alternate.
    const plans = [];
    for (let i = 0; i < SIZE; i++) plans.push(() => [i, i]);
    for (let i = 0; i < SIZE; i++) plans.push((n) => [(i + n) % SIZE, (i + n + 1) % SIZE]);
    const acked = plans.map(() => []);
    const errors = [];
    let maxSiblings = 0;

    const runClient = async (c, plan) => {
      const protocol = c % 2 === 0 ? 2 : 3;
      const conns = await Promise.all(nodes.map((n) => cluster.client(n, { protocol })));
      for (let n = 0; n < ITERATIONS; n++) {
        const item = `js${c}-${n}`;
        const [readNode, writeNode] = plan(n);
        try {
          const [token, values] = await conns[readNode].call('VGET', 'cart');
          maxSiblings = Math.max(maxSiblings, values.length);
          const merged = itemsOf(values);
          merged.add(item);
          await conns[writeNode].call('VPUT', 'cart', token, sorted(merged).join(','));
          acked[c].push(item);
        } catch (e) {
          errors.push(`client ${c} step ${n} (read ${readNode}, write ${writeNode}): ${e.message}`);
        }
      }
    };
    await Promise.all(plans.map((plan, c) => runClient(c, plan)));
    assert.deepEqual(errors, []);
    const every = new Set(acked.flat());
    assert.equal(every.size, plans.length * ITERATIONS);

    const [token, values] = await cluster.waitConverged('cart');
    assert.equal(typeof token, 'string');
    assert.match(token, /^[A-Za-z0-9_-]+$/);
    const got = itemsOf(values);
    assert.deepEqual(sorted(got), sorted(every), 'the converged cart holds every acknowledged item');
    // Each client's write covers its previous one (R + W > N): at most one
    // live sibling per client.
    assert.ok(values.length <= plans.length, `${values.length} siblings`);
    // Not a correctness condition, only evidence that the loop was concurrent.
    t.diagnostic(`largest sibling set read during the loop: ${maxSiblings}`);

    // A final read-merge-write leaves exactly one sibling, through any node:
    // read through node i, write the merge through node i+1.
    const readers = await Promise.all(nodes.map((n) => cluster.client(n)));
    for (let i = 0; i < SIZE; i++) {
      const [t, vs] = await readers[i].call('VGET', 'cart');
      const merged = itemsOf(vs);
      merged.add(`final${i}`);
      every.add(`final${i}`);
      const [, afterWrite] = await readers[(i + 1) % SIZE].call(
        'VPUT', 'cart', t, sorted(merged).join(','));
      assert.equal(afterWrite.length, 1,
                   `siblings after merging through node ${(i + 1) % SIZE}: ${afterWrite}`);
      assert.deepEqual(sorted(itemsOf(afterWrite)), sorted(every));
    }
    const [, finalValues] = await cluster.waitConverged('cart');
    assert.equal(finalValues.length, 1);
    assert.deepEqual(sorted(itemsOf(finalValues)), sorted(every));
  });
});
