import type { ConnectionState } from '@whiskeysockets/baileys';
import type { JetStreamClient } from 'nats';
import type { TenantDb } from '@switchyard/db';
import type { Logger } from '@switchyard/runtime';
import { attachCaptureAdapter, type CaptureAdapter } from './baileys-adapter.ts';
import { backoffDelay, type BackoffOptions } from './backoff.ts';
import { clearAuthState, loadAuthState } from './auth-state-store.ts';
import { disconnectAction, disconnectReasonName, willReconnect } from './disconnect-policy.ts';
import { createEventForwarder } from './event-forwarder.ts';
import type { IngestBatcher } from './ingest-batcher.ts';
import type { Numbering } from './numbering.ts';
import type { CaptureMetrics } from './metrics.ts';
import { deleteSession, getSession, recordStatus, type StatusPatch } from './session-store.ts';
import type { CaptureSocket, SocketFactory } from './socket-factory.ts';
import type { SpoolSettings } from './spool.ts';
import { readStatusCode } from './wa-readers.ts';

export interface SessionRunnerOptions {
  tenant: string;
  instance: string;
  db: TenantDb;
  js: JetStreamClient;
  /** The process's shared INGEST batcher. */
  ingest?: IngestBatcher;
  numbering?: Numbering;
  logger: Logger;
  metrics: CaptureMetrics;
  /** Recorded as the session's `owner`. */
  replicaId: string;
  socketFactory: SocketFactory;
  /** Delay between reconnect attempts after an unexpected close. */
  reconnect: BackoffOptions;
  /** How long a socket must stay open before a close counts as a fresh failure (backoff restarts). */
  stableAfterMs?: number;
  publishTimeoutMs?: number;
  publishBackoff?: BackoffOptions;
  /** PubAcks in flight per instance (CAPTURE_PUBLISH_WINDOW). */
  publishWindow?: number;
  /** The local spool (CAPTURE_SPOOL_DIR); DEFAULT_SPOOL_DIR when not given (tests). */
  spool?: SpoolSettings;
  /** The session was deleted: the owner may drop the instance. */
  onDeleted?: () => void;
}

export interface SessionRunner {
  readonly tenant: string;
  readonly instance: string;
  /** Reads what the operator asked for and converges on it (open a socket, close it, log out, delete). */
  reconcile(): Promise<void>;
  /** Whether this runner holds a socket (open or opening) right now. */
  hasSocket(): boolean;
  /** Resolves when everything captured so far is acknowledged by INGEST. */
  idle(): Promise<void>;
  /**
   * Closes the socket at once (synchronously, before the first await), then lets the publisher
   * store what Baileys already handed over. Events in the outbox stay for the next owner.
   */
  stop(): Promise<void>;
}

/**
 * One instance's WhatsApp session on the replica that holds its lease: Baileys sockets made
 * through the factory with the auth state from Postgres, a capture adapter that lives across
 * reconnects, and the reconnect policy by DisconnectReason. Status is written to `wa_sessions`
 * on state changes only, so a flapping socket costs no more writes than events.
 */
export function createSessionRunner(options: SessionRunnerOptions): SessionRunner {
  const { tenant, instance, db, logger, metrics } = options;
  const log = logger.child({ tenant, instance });
  const stableAfterMs = options.stableAfterMs ?? 30_000;
  const forwarder = createEventForwarder();

  let current: CaptureSocket | undefined;
  let forwardedFrom: CaptureSocket | undefined;
  let stopped = false;
  let intentionalClose = false;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let attempts = 0;
  let openedAt: number | undefined;
  let pairingPhone: string | null = null;

  const adapter: CaptureAdapter = attachCaptureAdapter({
    ev: forwarder,
    tenant,
    instance,
    js: options.js,
    ...(options.ingest ? { ingest: options.ingest } : {}),
    ...(options.numbering ? { numbering: options.numbering } : {}),
    db,
    logger,
    metrics,
    self: () => {
      const user = current?.user;
      if (user === undefined) return undefined;
      return { jid: user.phoneNumber ?? user.id, lid: user.lid, pushName: user.name ?? user.notify };
    },
    // A close we caused (stop, handover) is not reconnected by this replica; a handover is by
    // the next owner, which the event cannot know — report the policy's view unless stopping.
    willReconnect: (statusCode) => !intentionalClose && willReconnect(statusCode),
    ...(options.publishTimeoutMs !== undefined ? { publishTimeoutMs: options.publishTimeoutMs } : {}),
    ...(options.publishBackoff ? { backoff: options.publishBackoff } : {}),
    ...(options.publishWindow !== undefined ? { publishWindow: options.publishWindow } : {}),
    ...(options.spool ? { spool: options.spool } : {}),
  });

  // Status writes keep their order; a failed one is logged, not retried (the next state change
  // overwrites it, and the events on INGEST are the record).
  let writes: Promise<void> = Promise.resolve();
  function write(patch: StatusPatch): Promise<void> {
    writes = writes
      .then(() => recordStatus(db, instance, patch))
      .catch((err: unknown) => log.warn({ err, patch: Object.keys(patch) }, 'session status write failed'));
    return writes;
  }

  let queue: Promise<void> = Promise.resolve();
  function serial(work: () => Promise<void>): Promise<void> {
    const next = queue.then(work);
    queue = next.catch((err: unknown) => log.error({ err }, 'session reconcile failed'));
    return next;
  }

  function clearReconnect(): void {
    if (reconnectTimer !== undefined) clearTimeout(reconnectTimer);
    reconnectTimer = undefined;
  }

  function scheduleReconnect(delayMs: number): void {
    clearReconnect();
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      serial(converge).catch(() => undefined);
    }, delayMs);
  }

  /**
   * Ends the socket without a reconnect. Baileys stops reading the websocket synchronously inside
   * `end`, so nothing more is captured once this returns; the close event still reaches the
   * adapter (session.disconnected) before the forwarder lets go of that socket.
   */
  function closeSocket(): Promise<void> | undefined {
    clearReconnect();
    const sock = current;
    if (sock === undefined) return undefined;
    intentionalClose = true;
    current = undefined;
    metrics.sessions.open.dec({ tenant });
    let ended: Promise<void>;
    try {
      ended = Promise.resolve(sock.end(undefined));
    } catch (err) {
      ended = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return ended
      .catch((err: unknown) => log.debug({ err }, 'socket end failed'))
      .finally(() => {
        if (forwardedFrom === sock) {
          forwarder.detach();
          forwardedFrom = undefined;
        }
      });
  }

  async function openSocket(): Promise<void> {
    const auth = await loadAuthState(db, instance);
    if (stopped || current !== undefined) return;
    intentionalClose = false;
    const sock = options.socketFactory({ tenant, instance, auth: auth.state, logger });
    current = sock;
    metrics.sessions.open.inc({ tenant });
    let lastQr: string | undefined;
    let lastConnection: ConnectionState['connection'] | undefined;
    let pairingRequested = false;
    forwarder.attach(sock.ev);
    forwardedFrom = sock;
    sock.ev.on('creds.update', () => {
      auth.saveCreds().catch((err: unknown) => log.error({ err }, 'saving Baileys creds failed'));
    });
    sock.ev.on('connection.update', (update) => {
      if (current !== sock) return;
      const patch: StatusPatch = {};
      if (update.qr !== undefined && update.qr !== '' && update.qr !== lastQr) {
        lastQr = update.qr;
        Object.assign(patch, { status: 'qr', qr: update.qr });
        const phone = pairingPhone;
        if (phone !== null && !pairingRequested) {
          pairingRequested = true;
          sock
            .requestPairingCode(phone)
            .then((code) => write({ pairingCode: code }))
            .catch((err: unknown) => log.warn({ err }, 'pairing code request failed'));
        }
      }
      const connection = update.connection;
      if (connection !== undefined && connection !== lastConnection) {
        lastConnection = connection;
        if (connection === 'open') {
          openedAt = Date.now();
          const user = sock.user;
          Object.assign(patch, {
            status: 'open',
            qr: null,
            pairingCode: null,
            statusCode: null,
            lastError: null,
            meJid: user?.phoneNumber ?? user?.id ?? null,
            meLid: user?.lid ?? null,
          });
        } else if (connection === 'close') {
          onClose(update);
          return;
        }
      }
      if (Object.keys(patch).length > 0) void write(patch);
    });
    await write({ status: 'connecting', owner: options.replicaId, statusCode: null, lastError: null });
  }

  function onClose(update: Partial<ConnectionState>): void {
    const statusCode = readStatusCode(update.lastDisconnect?.error);
    const lastError = update.lastDisconnect?.error?.message ?? null;
    const action = disconnectAction(statusCode);
    current = undefined;
    metrics.sessions.open.dec({ tenant });
    metrics.sessions.disconnects.inc({ tenant, reason: disconnectReasonName(statusCode), action: action.kind });
    const base = { statusCode: statusCode ?? null, lastError, qr: null };
    log.info({ status_code: statusCode, action: action.kind }, 'WhatsApp socket closed');
    switch (action.kind) {
      case 'logged-out':
        // The creds are dead; keeping them would make every replica retry a pairing that cannot work.
        void write({ ...base, status: 'logged_out', desired: 'stopped', pairingCode: null });
        clearAuthState(db, instance).catch((err: unknown) => log.error({ err }, 'clearing auth state failed'));
        return;
      case 'replaced':
        // Another client holds the session now; fighting it would kick each other off forever.
        void write({ ...base, status: 'replaced', desired: 'stopped' });
        return;
      case 'reconnect-now':
        attempts = 0;
        void write({ ...base, status: 'disconnected' });
        scheduleReconnect(0);
        return;
      case 'backoff': {
        const wasStable = openedAt !== undefined && Date.now() - openedAt >= stableAfterMs;
        attempts = wasStable ? 1 : attempts + 1;
        openedAt = undefined;
        const delayMs = backoffDelay(attempts, options.reconnect);
        log.info({ attempt: attempts, delayMs }, 'reconnecting after backoff');
        void write({ ...base, status: 'disconnected' });
        scheduleReconnect(delayMs);
        return;
      }
    }
  }

  async function logOutAndForget(): Promise<void> {
    const sock = current;
    if (sock !== undefined) {
      // Ignore the 401 close this causes: the steps below are the logout's handling.
      current = undefined;
      intentionalClose = true;
      metrics.sessions.open.dec({ tenant });
      await sock.logout().catch((err: unknown) => log.warn({ err }, 'logout on WhatsApp failed'));
    }
    clearReconnect();
    await clearAuthState(db, instance);
  }

  async function converge(): Promise<void> {
    if (stopped) return;
    const session = await getSession(db, instance);
    if (stopped) return;
    if (session === null) {
      // An instance with only an outbox left (deleted session, or driven through attach): relay only.
      await closeSocket();
      return;
    }
    switch (session.desired) {
      case 'connected':
        pairingPhone = session.pairingPhone;
        // An operator's connect skips a pending backoff.
        if (current === undefined) {
          clearReconnect();
          await openSocket();
        }
        return;
      case 'stopped': {
        const hadReconnect = reconnectTimer !== undefined;
        const closing = closeSocket();
        if (closing !== undefined || hadReconnect) {
          await closing;
          await write({ status: 'stopped', qr: null });
        }
        return;
      }
      case 'logged_out':
        await logOutAndForget();
        await write({ status: 'logged_out', desired: 'stopped', qr: null, pairingCode: null });
        return;
      case 'deleted':
        await logOutAndForget();
        await writes;
        await deleteSession(db, instance);
        log.info('session deleted');
        options.onDeleted?.();
        return;
    }
  }

  return {
    tenant,
    instance,
    reconcile: () => serial(converge),
    hasSocket: () => current !== undefined,
    idle: () => adapter.idle(),
    async stop() {
      stopped = true;
      const closing = closeSocket();
      await queue;
      // Drop a socket a reconcile opened meanwhile (it checks `stopped` after its awaits).
      await Promise.all([closing, closeSocket()]);
      await adapter.close();
      await writes;
    },
  };
}
