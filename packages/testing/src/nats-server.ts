import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { canConnect, tcpServerProcess, toolBinary } from './child-process.ts';

/** The shared NATS (with JetStream) that tests use unless they need their own server. */
export const TEST_NATS_URL = process.env['TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';

/** NATS_SERVER_BIN, else the repo's .tools/bin/nats-server (the Debian one is old, 2.9), else `nats-server` on PATH. */
export function natsServerBinary(): string {
  return toolBinary('nats-server', 'NATS_SERVER_BIN');
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
   * SIGSTOP: the server hangs with its connections open, as a stalled host does: clients see
   * requests time out and heartbeats go missing, not a disconnect. `resume()` (SIGCONT) ends it.
   */
  pause(): void;
  resume(): void;
  /**
   * Replaces the extra configuration (see `config`) and has the running server reload it
   * (SIGHUP, as `nats-server --signal reload` does); resolves once the server accepts connections
   * again. Only for a server started with `config`.
   */
  reload(config: string): Promise<void>;
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
  const server = tcpServerProcess({ binary: natsServerBinary(), argv, port, startTimeoutMs });
  await server.launch().catch(async (err: unknown) => {
    await rm(workDir, { recursive: true, force: true });
    throw err;
  });

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    async stop() {
      server.signal('SIGCONT'); // a paused server would never act on the SIGTERM
      await server.terminate('SIGTERM');
      await rm(workDir, { recursive: true, force: true });
    },
    async restart() {
      server.signal('SIGCONT');
      await server.terminate('SIGTERM');
      await server.launch();
    },
    async kill() {
      await server.terminate('SIGKILL');
    },
    pause() {
      if (!server.signal('SIGSTOP')) throw new Error('the server is not running');
    },
    resume() {
      if (!server.signal('SIGCONT')) throw new Error('the server is not running');
    },
    async reload(next: string) {
      if (config === undefined) throw new Error('reload needs a server started with `config`');
      await writeFile(configPath, next);
      if (!server.signal('SIGHUP')) throw new Error('the server is not running');
      // A reload keeps the listener; give the server a moment to apply it, then check it answers.
      await new Promise((r) => setTimeout(r, 200));
      if (!(await canConnect(port))) throw new Error(`nats-server stopped accepting connections after reloading:\n${server.stderrTail()}`);
    },
  };
}
