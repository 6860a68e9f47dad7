'use strict';
// Starts and stops the causalkv server binary for the Node.js client tests.
//
// The binary comes from $CAUSALKV_SERVER (ctest sets it). Every server gets a
// kernel-chosen free port and a fresh temporary --dir, every wait is bounded,
// and every server started here is killed when this process exits. The child
// runs under `setpriv --pdeathsig SIGKILL`, so it also dies if this process is
// killed outright (a ctest timeout sends SIGKILL to the test runner).

const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const READY_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 15000;

const live = new Set();
process.on('exit', () => {
  for (const s of live) {
    try { s.proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

function serverBinary() {
  const bin = process.env.CAUSALKV_SERVER;
  if (!bin) {
    throw new Error('CAUSALKV_SERVER is not set: run through ctest, or export ' +
                    'CAUSALKV_SERVER=/path/to/causalkv-server');
  }
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    throw new Error(`CAUSALKV_SERVER=${bin} is not an executable file (was the server built?)`);
  }
  return bin;
}

// Fails with a clear message when `npm ci` has not been run here.
function requireClient(name) {
  try {
    return require(name);
  } catch (e) {
    if (e.code === 'MODULE_NOT_FOUND') {
      throw new Error(`npm package '${name}' is not installed in ${__dirname}: ` +
                      `run 'npm ci' there (make deps does it)`);
    }
    throw e;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One PING over a raw socket; resolves true on +PONG, false otherwise.
function pingOnce(port) {
  return new Promise((resolve) => {
    const sock = net.createConnection({ host: '127.0.0.1', port });
    let data = '';
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(2000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n')) done(data === '+PONG\r\n' || data.startsWith('-NOAUTH'));
    });
  });
}

class Server {
  constructor(proc, port, base, logPath, argv) {
    this.proc = proc;
    this.port = port;
    this.base = base;
    this.logPath = logPath;
    this.argv = argv;
    this.exitCode = undefined;
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exitCode = code !== null ? code : `signal ${signal}`;
        resolve(this.exitCode);
      });
    });
    live.add(this);
  }

  logTail(limit = 4000) {
    try {
      const text = fs.readFileSync(this.logPath, 'utf8');
      return text.slice(-limit);
    } catch {
      return '(no log)';
    }
  }

  async waitReady() {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.exitCode !== undefined) return false;
      if (await pingOnce(this.port)) return true;
      await sleep(50);
    }
    throw new Error(`causalkv-server on port ${this.port} did not answer PING within ` +
                    `${READY_TIMEOUT_MS} ms\nlog:\n${this.logTail()}`);
  }

  // SIGTERM, wait (bounded), assert exit code 0, remove the temp dir.
  async stop() {
    try {
      if (this.exitCode === undefined) this.proc.kill('SIGTERM');
      let timer;
      const timeout = new Promise((resolve) => {
        timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
      });
      const result = await Promise.race([this.exited, timeout]);
      clearTimeout(timer);
      if (result === 'timeout') {
        this.proc.kill('SIGKILL');
        await this.exited;
        throw new Error(`causalkv-server (port ${this.port}) did not exit within ` +
                        `${STOP_TIMEOUT_MS} ms of SIGTERM\nlog:\n${this.logTail()}`);
      }
      assert.equal(result, 0, `causalkv-server exit code after SIGTERM\nlog:\n${this.logTail()}`);
    } finally {
      live.delete(this);
      fs.rmSync(this.base, { recursive: true, force: true });
    }
  }
}

// Starts a server with a fresh data dir; extraArgs e.g. ['--requirepass', 'pw'].
async function startServer(extraArgs = []) {
  const bin = serverBinary();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'causalkv-node-'));
  const dir = path.join(base, 'data');
  fs.mkdirSync(dir);
  const logPath = path.join(base, 'server.log');
  let last;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const argv = [...wrapperArgv(), bin, '--port', String(port), '--dir', dir,
                  '--bind', '127.0.0.1', ...extraArgs];
    const log = fs.openSync(logPath, 'a');
    const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const srv = new Server(proc, port, base, logPath, argv);
    let ready;
    try {
      ready = await srv.waitReady();
    } catch (e) {
      proc.kill('SIGKILL');
      live.delete(srv);
      fs.rmSync(base, { recursive: true, force: true });
      throw e;
    }
    if (ready) return srv;
    // Exited before answering: most likely the port was taken in between.
    last = srv;
    live.delete(srv);
  }
  const log = last.logTail();
  fs.rmSync(base, { recursive: true, force: true });
  throw new Error(`causalkv-server exited before becoming ready (exit ${last.exitCode}), ` +
                  `3 attempts\nargv: ${last.argv.join(' ')}\nlog:\n${log}`);
}

// The seed scenario (DDIA figure 5-13) on a fresh server: the command
// arguments, then the exact [version, siblings] reply expected.
const CART_STEPS = [
  [['VPUT', 'cart', '0', 'milk'], [1, ['milk']]],
  [['VPUT', 'cart', '0', 'eggs'], [2, ['milk', 'eggs']]],
  [['VPUT', 'cart', '1', 'milk flour'], [3, ['eggs', 'milk flour']]],
  [['VPUT', 'cart', '2', 'eggs milk ham'], [4, ['milk flour', 'eggs milk ham']]],
  [['VPUT', 'cart', '3', 'milk flour eggs bacon'], [5, ['eggs milk ham', 'milk flour eggs bacon']]],
];
const CART_FINAL_WITHVERSIONS = [5, [[4, 'eggs milk ham'], [5, 'milk flour eggs bacon']]];
// A reader merges the two siblings and writes the merge back with version 5.
const CART_MERGE = [['VPUT', 'cart', '5', 'milk flour eggs bacon ham'],
                    [6, ['milk flour eggs bacon ham']]];

module.exports = {
  startServer, requireClient, sleep, CART_STEPS, CART_FINAL_WITHVERSIONS, CART_MERGE,
};
