// Starts and stops `todod all` for the browser tests: a free port on 127.0.0.1, a private
// PostgreSQL cluster under a throwaway --data-dir (kept across a restart), logs to a file.
import {spawn} from 'node:child_process';
import {createServer} from 'node:net';
import {chmodSync, mkdtempSync, openSync, closeSync, rmSync, readFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const {port} = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Todod {
  constructor(bin) {
    this.bin = bin;
    this.dir = mkdtempSync(join(tmpdir(), 'todod-browser-'));
    // As root, todod runs PostgreSQL as 'postgres', which must reach the data directory.
    chmodSync(this.dir, 0o755);
    this.dataDir = join(this.dir, 'data');
    this.logPath = join(this.dir, 'todod.log');
    this.child = null;
    this.port = 0;
  }

  get origin() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    if (!this.port) this.port = await freePort();
    const log = openSync(this.logPath, 'a');
    this.child = spawn(this.bin, ['all', '--listen', `127.0.0.1:${this.port}`,
      '--data-dir', this.dataDir, '--log-level', 'warn'], {stdio: ['ignore', log, log]});
    closeSync(log);
    const exited = new Promise((resolve) => this.child.once('exit', (code, sig) => resolve(code ?? sig)));
    this.exited = exited;
    const deadline = Date.now() + 120000;
    while (Date.now() < deadline) {
      const status = await Promise.race([exited.then((c) => `exited ${c}`), sleep(250)]);
      if (typeof status === 'string') throw new Error(`todod ${status}:\n${this.logs()}`);
      try {
        const r = await fetch(`${this.origin}/ready`);
        if (r.ok) return;
      } catch { /* not listening yet */ }
    }
    throw new Error(`todod not ready within 120 s:\n${this.logs()}`);
  }

  // SIGTERM and wait for a clean exit (the drain closes WebSockets with 1001).
  async stop() {
    if (!this.child) return;
    const child = this.child;
    this.child = null;
    child.kill('SIGTERM');
    const code = await Promise.race([this.exited, sleep(30000).then(() => 'timeout')]);
    if (code === 'timeout') {
      child.kill('SIGKILL');
      throw new Error('todod did not stop within 30 s');
    }
    return code;
  }

  logs() {
    try {
      return readFileSync(this.logPath, 'utf8').slice(-4000);
    } catch {
      return '';
    }
  }

  async cleanup() {
    await this.stop().catch(() => {});
    rmSync(this.dir, {recursive: true, force: true});
  }
}
