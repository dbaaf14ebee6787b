import { DependencyUnreachableError } from '@switchyard/runtime';
import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator, Events, type NatsConnection } from 'nats';
import type { Logger } from 'pino';

export interface ConnectNatsOptions {
  url: string;
  /** Connection name shown by the server (`nats server report connections`); use the service name. */
  name: string;
  logger: Logger;
  /** How long to keep trying the first connection before giving up. Default 30s. */
  timeoutMs?: number;
  /** A `.creds` file (user JWT + nkey seed), for servers running JWT auth (see credentials.ts). */
  credsFile?: string;
}

const FIRST_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5_000;

/**
 * Connects with backoff until `timeoutMs`, so a service started before NATS waits for it instead
 * of crash-looping; once connected it reconnects forever, because a service that gives up on
 * NATS can only be fixed by a restart.
 */
/**
 * Client options every Switchyard connection uses (and the benchmarks' raw ceilings too, so the
 * comparison is like for like). `noAsyncTraces`: by default nats.js builds an `Error` per request
 * (every acknowledged publish) only to give a timeout a stack trace of where it was started —
 * measured at 30–60 µs per publish on capture's and the router's hot paths. Our callers log their
 * own context (tenant, instance, seq) with a failed publish, so the trace buys nothing.
 */
export const NATS_CLIENT_TUNING = { noAsyncTraces: true } as const;

export async function connectNats(options: ConnectNatsOptions): Promise<NatsConnection> {
  const { url, name, logger, timeoutMs = 30_000 } = options;
  const authenticator = options.credsFile !== undefined ? credsAuthenticator(await readFile(options.credsFile)) : undefined;
  const started = Date.now();
  let backoffMs = FIRST_BACKOFF_MS;
  let lastError: unknown;
  for (let attempt = 1; ; attempt++) {
    const remaining = timeoutMs - (Date.now() - started);
    if (remaining <= 0) throw new DependencyUnreachableError({ dependency: 'nats', url, cause: lastError });
    try {
      const nc = await connect({
        servers: url,
        name,
        timeout: Math.max(250, Math.min(remaining, 5_000)),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1_000,
        waitOnFirstConnect: false,
        ...NATS_CLIENT_TUNING,
        ...(authenticator !== undefined ? { authenticator } : {}),
      });
      logger.info({ url, server: nc.info?.server_name, attempt }, 'connected to NATS');
      void logStatus(nc, logger);
      return nc;
    } catch (err) {
      lastError = err;
      logger.warn({ url, attempt, err }, 'NATS not reachable yet; retrying');
      const sleep = Math.min(backoffMs, timeoutMs - (Date.now() - started));
      if (sleep > 0) await new Promise((r) => setTimeout(r, sleep));
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
    }
  }
}

// The client keeps `info` while reconnecting, so readiness needs the last status event we saw.
const disconnected = new WeakSet<NatsConnection>();

async function logStatus(nc: NatsConnection, logger: Logger): Promise<void> {
  try {
    for await (const status of nc.status()) {
      const data = typeof status.data === 'object' ? JSON.stringify(status.data) : status.data;
      if (status.type === Events.Disconnect) {
        disconnected.add(nc);
        logger.warn({ status: status.type, data }, 'NATS disconnected; reconnecting');
      } else if (status.type === Events.Error || status.type === Events.LDM) {
        logger.warn({ status: status.type, data }, 'NATS connection status');
      } else if (status.type === Events.Reconnect) {
        disconnected.delete(nc);
        logger.info({ status: status.type, data }, 'NATS reconnected');
      } else {
        logger.debug({ status: status.type, data }, 'NATS connection status');
      }
    }
  } catch (err) {
    logger.error({ err }, 'NATS status stream failed');
  }
}

/** For readiness probes: connected and not draining or closed. */
export function isNatsConnected(nc: NatsConnection): boolean {
  return !nc.isClosed() && !nc.isDraining() && !disconnected.has(nc);
}
