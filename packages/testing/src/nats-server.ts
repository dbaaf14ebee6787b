import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

/** The shared NATS (with JetStream) that tests use unless they need their own server. */
export const TEST_NATS_URL = process.env['TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';

// The Debian nats-server is old (2.9); a current one is built into .tools/bin when available.
const TOOLS_NATS_SERVER = new URL('../../../.tools/bin/nats-server', import.meta.url).pathname;

/** NATS_SERVER_BIN, else the repo's .tools/bin/nats-server, else `nats-server` on PATH. */
export function natsServerBinary(): string {
  const fromEnv = process.env['NATS_SERVER_BIN'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (existsSync(TOOLS_NATS_SERVER)) return TOOLS_NATS_SERVER;
  return 'nats-server';
}

export interface NatsServerOptions {
  /** Enables JetStream with a temporary store dir. Default true. */
  jetstream?: boolean;
  /** Extra configuration file text (accounts, users, `jetstream { sync_interval: always }`…). */
  config?: string;
  /** Extra command-line arguments. */
  args?: string[];
  /** How long to wait for the server to accept connections. Default 15s. */
  startTimeoutMs?: number;
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** Graceful shutdown (SIGTERM), then removes the store dir. */
  stop(): Promise<void>;
  /** Stops gracefully and starts again on the same port with the same store dir. */
  restart(): Promise<void>;
  /** SIGKILL, like a crash: the store dir is kept so `restart()` recovers from it. */
  kill(): Promise<void>;
  /**
   * Replaces the extra configuration (see `config`) and has the running server reload it
   * (SIGHUP, as `nats-server --signal reload` does); resolves once the server accepts connections
   * again. Only for a server started with `config`.
   */
  reload(config: string): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500);
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1');
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts a private nats-server on a free port with a temporary store dir, for tests that kill,
 * restart or configure NATS. Always `stop()` it (e.g. in afterAll).
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const { jetstream = true, config, args = [], startTimeoutMs = 15_000 } = options;
  const port = await freePort();
  const workDir = await mkdtemp(join(tmpdir(), 'switchyard-nats-'));
  const storeDir = join(workDir, 'jetstream');
  const argv = ['-a', '127.0.0.1', '-p', String(port)];
  if (jetstream) argv.push('-js', '-sd', storeDir);
  const configPath = join(workDir, 'nats.conf');
  if (config !== undefined) {
    await writeFile(configPath, config);
    argv.push('-c', configPath);
  }
  argv.push(...args);
  const binary = natsServerBinary();
  let child: ChildProcess | undefined;
  let stderrTail = '';

  const launch = async (): Promise<void> => {
    const proc = spawn(binary, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString()).slice(-4000);
    });
    const spawnError = new Promise<never>((_, reject) => {
      proc.once('error', (err) => reject(new Error(`could not run ${binary}: ${err.message}`, { cause: err })));
    });
    const deadline = Date.now() + startTimeoutMs;
    const ready = (async (): Promise<void> => {
      for (;;) {
        if (proc.exitCode !== null) {
          throw new Error(`${binary} exited with code ${proc.exitCode} before accepting connections:\n${stderrTail}`);
        }
        if (await canConnect(port)) return;
        if (Date.now() > deadline) throw new Error(`${binary} did not accept connections on port ${port} within ${startTimeoutMs}ms:\n${stderrTail}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await Promise.race([ready, spawnError]);
  };

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (proc === undefined) return;
    child = undefined;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await exited(proc);
  };

  try {
    await launch();
  } catch (err) {
    await terminate('SIGKILL');
    await rm(workDir, { recursive: true, force: true });
    throw err;
  }

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    async stop() {
      await terminate('SIGTERM');
      await rm(workDir, { recursive: true, force: true });
    },
    async restart() {
      await terminate('SIGTERM');
      await launch();
    },
    async kill() {
      await terminate('SIGKILL');
    },
    async reload(next: string) {
      if (config === undefined) throw new Error('reload needs a server started with `config`');
      if (child === undefined) throw new Error('the server is not running');
      await writeFile(configPath, next);
      child.kill('SIGHUP');
      // A reload keeps the listener; give the server a moment to apply it, then check it answers.
      await new Promise((r) => setTimeout(r, 200));
      if (!(await canConnect(port))) throw new Error(`nats-server stopped accepting connections after reloading:\n${stderrTail}`);
    },
  };
}
