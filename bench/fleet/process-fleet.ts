import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '@switchyard/testing';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SERVICE_NAMES = [
  'capture',
  'router',
  'persistence',
  'media',
  'webhook-dispatch',
  'dlq-worker',
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface ProcessFleetOptions {
  /** NATS_URL, DATABASE_URL and anything else every service should see. */
  env: Record<string, string>;
  /** Which services to run; default all six. */
  services?: readonly ServiceName[];
  /** Run a different entry point for a service (e.g. a capture driver), relative to the repo root. */
  entries?: Partial<Record<ServiceName, string>>;
  /** Services started with an IPC channel (`child.send`), e.g. a driver the test commands. */
  ipc?: readonly ServiceName[];
  /** Extra environment for one service, read at every (re)start. */
  envFor?: (name: ServiceName) => Record<string, string>;
  /** Where service output goes; default: only lines at warn or above reach stderr. */
  onLine?: (service: ServiceName, line: string) => void;
  readyTimeoutMs?: number;
  /**
   * Start a service again when it exits on its own, as Kubernetes or systemd would, so a test can
   * still tell data loss from a crash. Every such exit is kept in `crashes` either way.
   */
  restartOnCrash?: boolean;
}

export interface Crash {
  service: ServiceName;
  /** Exit code or signal. */
  how: string;
  at: number;
  /** The service's last output lines. */
  tail: string;
}

export interface ServiceProcess {
  readonly name: ServiceName;
  readonly port: number;
  readonly pid: number | undefined;
  readonly child: ChildProcess | undefined;
}

export interface ProcessFleet {
  readonly services: ReadonlyMap<ServiceName, ServiceProcess>;
  /** Exits nobody asked for (not `kill` or `stop`), oldest first. */
  readonly crashes: readonly Crash[];
  pid(name: ServiceName): number;
  /** SIGKILL, like a crash or an OOM kill: nothing is drained. Resolves when the process is gone. */
  kill(name: ServiceName): Promise<void>;
  /** Starts a stopped or killed service again on its port and waits for /readyz. */
  start(name: ServiceName): Promise<void>;
  /** SIGTERM to every service (their drain path), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Polls /readyz (NATS connected, Postgres answering) until 200, failing early if the process died. */
async function waitReady(
  name: string,
  port: number,
  child: ChildProcess,
  timeoutMs: number,
  lastLines: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${name} exited (${child.signalCode ?? child.exitCode}) before it was ready:\n${lastLines()}`,
      );
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`, {
        signal: AbortSignal.timeout(1_000),
      });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline)
      throw new Error(
        `${name} was not ready on port ${port} within ${timeoutMs} ms:\n${lastLines()}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The fleet as separate OS processes, each started as `scripts/fleet.mjs` starts it
 * (`node --import tsx services/<name>/src/main.ts`), so a benchmark measures real process
 * boundaries and a chaos test can SIGKILL one service without touching the others. Unlike
 * fleet.mjs it does not stop the fleet when one child dies: killing them is the point.
 * The control schema must be migrated first (`switchyard migrate`), as fleet.mjs does.
 */
export async function startProcessFleet(options: ProcessFleetOptions): Promise<ProcessFleet> {
  const names = options.services ?? SERVICE_NAMES;
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const state = new Map<
    ServiceName,
    {
      name: ServiceName;
      port: number;
      child: ChildProcess | undefined;
      tail: string[];
      expectExit: boolean;
    }
  >();
  const crashes: Crash[] = [];
  let stopping = false;
  const onLine =
    options.onLine ??
    ((service: ServiceName, line: string) => {
      if (/"level":(40|50|60)/.test(line) || !line.startsWith('{'))
        process.stderr.write(`[${service}] ${line}\n`);
    });

  const launch = async (name: ServiceName): Promise<void> => {
    const entry = state.get(name)!;
    const script = options.entries?.[name] ?? `services/${name}/src/main.ts`;
    // FLEET_NODE_ARGS: extra node flags for every service, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
    // (NODE_OPTIONS refuses --cpu-prof).
    const nodeArgs = process.env['FLEET_NODE_ARGS']?.split(' ').filter(Boolean) ?? [];
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '',
        ...options.env,
        ...options.envFor?.(name),
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(entry.port),
      },
      stdio: options.ipc?.includes(name) ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    });
    entry.child = child;
    entry.tail = [];
    entry.expectExit = false;
    child.once('exit', (code, signal) => {
      if (entry.expectExit || stopping || entry.child !== child) return;
      crashes.push({
        service: name,
        how: signal ?? `exit code ${code}`,
        at: Date.now(),
        tail: entry.tail.slice(-40).join('\n'),
      });
      if (options.restartOnCrash) {
        setTimeout(() => {
          if (stopping || entry.child !== child) return;
          launch(name).catch((err: unknown) =>
            process.stderr.write(`[fleet] ${name} did not come back: ${String(err)}\n`),
          );
        }, 1_000);
      }
    });
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        entry.tail.push(line);
        if (entry.tail.length > 40) entry.tail.shift();
        onLine(name, line);
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    await waitReady(name, entry.port, child, readyTimeoutMs, () => entry.tail.join('\n'));
  };

  for (const name of names)
    state.set(name, {
      name,
      port: await freePort(),
      child: undefined,
      tail: [],
      expectExit: false,
    });
  const fleet: ProcessFleet = {
    crashes,
    get services() {
      return new Map(
        [...state].map(([name, s]) => [
          name,
          { name, port: s.port, pid: s.child?.pid, child: s.child },
        ]),
      );
    },
    pid(name) {
      const pid = state.get(name)?.child?.pid;
      if (pid === undefined) throw new Error(`${name} is not running`);
      return pid;
    },
    async kill(name) {
      const entry = state.get(name);
      const child = entry?.child;
      if (entry === undefined || child === undefined) return;
      entry.expectExit = true;
      child.kill('SIGKILL');
      await exited(child);
    },
    async start(name) {
      const child = state.get(name)?.child;
      if (child !== undefined && child.exitCode === null && child.signalCode === null)
        throw new Error(`${name} is already running`);
      await launch(name);
    },
    async stop(graceMs = 15_000) {
      stopping = true;
      const children = [...state.values()].flatMap((s) => (s.child ? [s.child] : []));
      for (const child of children) child.kill('SIGTERM');
      const timer = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), graceMs);
      await Promise.all(children.map(exited));
      clearTimeout(timer);
    },
  };
  try {
    // In parallel: each service migrates nothing new (the control schema is already there) and
    // most of the start time is tsx compiling, which two cores do as well at once as in turn.
    await Promise.all(names.map(launch));
  } catch (err) {
    await fleet.stop(1_000);
    throw err;
  }
  return fleet;
}
