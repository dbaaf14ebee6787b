#!/usr/bin/env node
// `pnpm start`: runs the whole Switchyard fleet locally, one process per service, with every
// output line tagged by service. Plain Node with built-ins only, because it must work before
// anything else does — including the check that NATS and Postgres are up.
//
//   SWITCHYARD_SERVICES=router,persistence pnpm start    run a subset
//   NO_COLOR=1                                           plain tags
//
// Order: check NATS and Postgres answer → migrate (packages/cli `migrate`) → spawn the services.
// Ctrl-C / SIGTERM forwards SIGTERM to every child and waits up to 35 s (a second Ctrl-C kills at
// once); a child that exits on its own takes the fleet down with a non-zero status.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Every service and the HTTP port it serves /healthz, /readyz and /metrics on. */
const SERVICES = {
  capture: 8081,
  router: 8082,
  persistence: 8083,
  media: 8084,
  'webhook-dispatch': 8085,
  'dlq-worker': 8086,
};

const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/switchyard';
// Services drain for SHUTDOWN_TIMEOUT (30 s by default); give them a little more before SIGKILL.
const STOP_GRACE_MS = 35_000;
const CONNECT_TIMEOUT_MS = 2_000;

const useColor = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const COLORS = [36, 33, 35, 32, 34, 31]; // cyan yellow magenta green blue red
const tagWidth = Math.max(...Object.keys(SERVICES).map((n) => n.length), 'migrate'.length) + 2;

function tag(name, colorIndex) {
  const text = `[${name}]`.padEnd(tagWidth);
  if (!useColor) return text;
  const code = colorIndex === undefined ? 90 : COLORS[colorIndex % COLORS.length];
  return `\x1b[${code}m${text}\x1b[0m`;
}

function say(message) {
  process.stdout.write(`${tag('fleet')} ${message}\n`);
}

/** Prints a message for a human and exits 1 — never a stack trace. */
function fail(message) {
  process.stderr.write(`${tag('fleet')} ${message.split('\n').join(`\n${tag('fleet')} `)}\n`);
  process.exit(1);
}

// --- configuration ----------------------------------------------------------------------------

function selectedServices() {
  const raw = process.env.SWITCHYARD_SERVICES?.trim();
  const names = raw
    ? raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : Object.keys(SERVICES);
  const unknown = names.filter((n) => !(n in SERVICES));
  if (unknown.length > 0) {
    fail(
      `SWITCHYARD_SERVICES names unknown service(s): ${unknown.join(', ')}\nknown: ${Object.keys(SERVICES).join(', ')}`,
    );
  }
  return [...new Set(names)];
}

function assertEntryPoints(names) {
  const entryOf = (name) => join('services', name, 'src', 'main.ts');
  const missing = names.filter((name) => !existsSync(join(repoRoot, entryOf(name))));
  if (missing.length === 0) return;
  const present = names.filter((name) => !missing.includes(name));
  fail(
    missing
      .map((name) => `service "${name}" has no entry point: ${entryOf(name)} does not exist`)
      .join('\n') +
      (present.length > 0
        ? `\nto run the others: SWITCHYARD_SERVICES=${present.join(',')} pnpm start`
        : ''),
  );
}

/** host:port of a URL, with the scheme's default port; the first server of a NATS list. */
function endpointOf(url, defaultPort, variable) {
  const first = url.split(',')[0].trim();
  let parsed;
  try {
    parsed = new URL(first.includes('://') ? first : `nats://${first}`);
  } catch {
    fail(`${variable} is not a valid URL: ${url}`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  return { host, port: Number(parsed.port || defaultPort) };
}

/** Resolves to null when something accepts a TCP connection, else to the reason it did not. */
function probeTcp({ host, port }) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (reason) => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () =>
      done(`no answer within ${CONNECT_TIMEOUT_MS / 1000}s`),
    );
    socket.once('connect', () => done(null));
    socket.once('error', (err) => done(err.code ?? err.message));
  });
}

async function checkDependencies(natsUrl, databaseUrl) {
  const nats = endpointOf(natsUrl, 4222, 'NATS_URL');
  const checks = [
    {
      what: 'NATS',
      variable: 'NATS_URL',
      endpoint: nats,
      start:
        nats.port === 4222
          ? 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log'
          : `nats-server -a ${nats.host} -p ${nats.port} -js -sd /tmp/nats-${nats.port}`,
    },
    {
      what: 'PostgreSQL',
      variable: 'DATABASE_URL',
      endpoint: endpointOf(databaseUrl, 5432, 'DATABASE_URL'),
      start: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
    },
  ];
  const results = await Promise.all(checks.map((c) => probeTcp(c.endpoint)));
  const problems = checks.flatMap((check, i) => {
    const reason = results[i];
    if (reason === null) return [];
    const { host, port } = check.endpoint;
    return [
      `${check.what} is not reachable at ${host}:${port} (${reason}; from ${check.variable}).\n` +
        `  start it with:  ${check.start}\n` +
        `  or run:         bash scripts/ensure-services.sh`,
    ];
  });
  if (problems.length > 0) fail(problems.join('\n'));
}

function resolveTsx() {
  try {
    return import.meta.resolve('tsx');
  } catch {
    fail('tsx is not installed (it is a root devDependency) — run `pnpm install` first');
  }
}

// --- child processes --------------------------------------------------------------------------

function pipeLines(stream, out, prefix) {
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) =>
    out.write(`${prefix} ${line}\n`),
  );
}

function runMigrations(tsx, env) {
  const cli = join(repoRoot, 'packages', 'cli', 'src', 'main.ts');
  if (!existsSync(cli)) fail(`cannot migrate: ${relative(repoRoot, cli)} does not exist`);
  say('migrating: switchyard migrate');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', tsx, cli, 'migrate'], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stderr = [];
    pipeLines(child.stdout, process.stdout, tag('migrate'));
    child.stderr.on('data', (chunk) => stderr.push(chunk));
    child.once('error', (err) => fail(`could not run the migration: ${err.message}`));
    child.once('close', (code, signal) => {
      if (code === 0) return resolve();
      const output = Buffer.concat(stderr).toString('utf8').trimEnd();
      fail(`migration failed (${signal ?? `exit code ${code}`})${output ? `:\n${output}` : ''}`);
    });
  });
}

function startFleet(names, tsx, baseEnv) {
  /** @type {Map<string, import('node:child_process').ChildProcess>} */
  const running = new Map();
  let stopping = false;
  let failed = false;
  let killTimer;

  const finishIfDone = () => {
    if (running.size > 0) return;
    clearTimeout(killTimer);
    say(failed ? 'fleet stopped after a failure' : 'fleet stopped');
    process.exit(failed ? 1 : 0);
  };

  const stopAll = (reason) => {
    if (stopping) return;
    stopping = true;
    say(`${reason}; sending SIGTERM to ${[...running.keys()].join(', ') || 'nothing'}`);
    for (const child of running.values()) child.kill('SIGTERM');
    killTimer = setTimeout(() => {
      say(
        `still running after ${STOP_GRACE_MS / 1000}s, killing: ${[...running.keys()].join(', ')}`,
      );
      for (const child of running.values()) child.kill('SIGKILL');
    }, STOP_GRACE_MS);
    finishIfDone();
  };

  names.forEach((name, index) => {
    const env = { ...baseEnv, HTTP_PORT: String(SERVICES[name]) };
    const entry = join('services', name, 'src', 'main.ts');
    // A process group of its own, so a terminal's Ctrl-C reaches only the fleet, which then
    // stops the children in order instead of every process getting SIGINT at once.
    const child = spawn(process.execPath, ['--import', tsx, entry], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    running.set(name, child);
    const prefix = tag(name, index);
    pipeLines(child.stdout, process.stdout, prefix);
    pipeLines(child.stderr, process.stderr, prefix);
    child.once('error', (err) => {
      say(`${name} could not start: ${err.message}`);
    });
    child.once('close', (code, signal) => {
      running.delete(name);
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      if (stopping) {
        if (code !== 0 && signal !== 'SIGTERM') failed = true;
        say(`${name} stopped (${how})`);
        finishIfDone();
      } else {
        failed = true;
        say(`${name} exited unexpectedly (${how})`);
        stopAll(`${name} is gone`);
      }
    });
    say(`started ${name} (pid ${child.pid}) on port ${SERVICES[name]}`);
  });

  let interrupts = 0;
  const onSignal = (signal) => {
    interrupts += 1;
    if (interrupts > 1) {
      say(`${signal} again: killing ${[...running.keys()].join(', ')}`);
      for (const child of running.values()) child.kill('SIGKILL');
      return;
    }
    stopAll(`received ${signal}`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal); // the terminal went away
  // Last resort if the fleet itself dies: detached children would otherwise outlive it.
  process.on('exit', () => {
    for (const child of running.values()) child.kill('SIGKILL');
  });
}

async function main() {
  const names = selectedServices();
  const natsUrl = process.env.NATS_URL || DEFAULT_NATS_URL;
  const databaseUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  await checkDependencies(natsUrl, databaseUrl);
  assertEntryPoints(names);

  const tsx = resolveTsx();
  const env = { ...process.env, NATS_URL: natsUrl, DATABASE_URL: databaseUrl };
  delete env.HTTP_PORT; // each service gets its own below
  // The local fleet is for trying things out on this machine, where webhook receivers are local
  // too; the SSRF guard refuses loopback unless allowed. Deployments (Helm) keep the guard whole.
  env.WEBHOOK_ALLOWED_HOSTS ??= '127.0.0.1,::1,localhost';
  if (process.stdout.isTTY) {
    env.LOG_PRETTY ??= '1';
    // Children write into a pipe, so colour libraries would turn themselves off.
    if (!process.env.NO_COLOR) env.FORCE_COLOR ??= '1';
  }

  await runMigrations(tsx, env);
  startFleet(names, tsx, env);
}

main().catch((err) =>
  fail(`unexpected error: ${err instanceof Error ? err.message : String(err)}`),
);
