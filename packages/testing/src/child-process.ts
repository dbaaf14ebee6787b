import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Socket } from 'node:net';

/**
 * Where a tool binary a test runs is: `$<envVar>` when set, else the repo's `.tools/bin/<name>`
 * (built by scripts/install-tools.sh), else `<name>` on PATH.
 */
export function toolBinary(name: string, envVar: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const built = new URL(`../../../.tools/bin/${name}`, import.meta.url).pathname;
  return existsSync(built) ? built : name;
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` (a server started by a test). */
export function canConnect(port: number): Promise<boolean> {
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

/** Resolves once the child has exited (at once if it has). */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export interface TcpServerProcessOptions {
  binary: string;
  argv: readonly string[];
  /** The port it listens on: it is up once this accepts connections. */
  port: number;
  startTimeoutMs: number;
  /** Added to the error when the binary cannot be run (where to get it). */
  missingHint?: string;
}

/** A server binary a test runs, started and stopped as often as the test likes. */
export interface TcpServerProcess {
  /**
   * Spawns it and resolves once it accepts connections; rejects with its stderr if it exits first
   * or is not up in time (and then kills it).
   */
  launch(): Promise<void>;
  /** Sends `signal` and waits for the exit (nothing when not running). */
  terminate(signal: NodeJS.Signals): Promise<void>;
  /** Sends a signal without waiting (SIGHUP to reload); false when not running. */
  signal(signal: NodeJS.Signals): boolean;
  /** The last 4 KB of what it wrote to stderr. */
  stderrTail(): string;
}

export function tcpServerProcess(options: TcpServerProcessOptions): TcpServerProcess {
  const { binary, port, startTimeoutMs } = options;
  let child: ChildProcess | undefined;
  let stderrTail = '';
  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (proc === undefined) return;
    child = undefined;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await exited(proc);
  };
  return {
    async launch() {
      const proc = spawn(binary, options.argv, { stdio: ['ignore', 'ignore', 'pipe'] });
      child = proc;
      proc.stderr?.on('data', (chunk: Buffer) => {
        stderrTail = (stderrTail + chunk.toString()).slice(-4000);
      });
      const spawnError = new Promise<never>((_, reject) => {
        proc.once('error', (err) => reject(new Error(`could not run ${binary}${options.missingHint ? ` (${options.missingHint})` : ''}: ${err.message}`, { cause: err })));
      });
      const deadline = Date.now() + startTimeoutMs;
      const ready = (async (): Promise<void> => {
        for (;;) {
          if (proc.exitCode !== null) throw new Error(`${binary} exited with code ${proc.exitCode} before accepting connections:\n${stderrTail}`);
          if (await canConnect(port)) return;
          if (Date.now() > deadline) throw new Error(`${binary} did not accept connections on port ${port} within ${startTimeoutMs}ms:\n${stderrTail}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      try {
        await Promise.race([ready, spawnError]);
      } catch (err) {
        await terminate('SIGKILL');
        throw err;
      }
    },
    terminate,
    signal(signal) {
      if (child === undefined) return false;
      return child.kill(signal);
    },
    stderrTail: () => stderrTail,
  };
}
