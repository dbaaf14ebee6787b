import { DisconnectReason, type ConnectionState } from '@whiskeysockets/baileys';
import { newEventId, SCHEMA_VERSION } from '@switchyard/schema';
import type { SelfIdentity, UnsequencedEvent } from './captured-event.ts';
import { splitAddress } from './jid-addressing.ts';
import { readStatusCode } from './wa-readers.ts';

export interface ConnectionContext {
  tenant: string;
  instance: string;
  /** Who the socket is logged in as once open (`sock.user`), for `session.connected`. */
  self?: () => SelfIdentity | undefined;
  /**
   * Whether the session owner will reconnect after this close. Reconnecting is the session
   * manager's decision (a later issue); until it exists, everything but a logout is retried.
   */
  willReconnect?: (statusCode: number | undefined) => boolean;
}

/**
 * Maps `connection.update` to session events, emitting only on a change of state: Baileys repeats
 * the same `connection` value alongside unrelated fields (isOnline, receivedPendingNotifications),
 * and those must not become a stream of duplicate "connected" events. A logout (401) is
 * `session.logged_out` rather than a disconnect, because it needs a new QR pairing, not a retry.
 *
 * Session events have no source key to derive an id from, so they get random ids; a retried
 * publish reuses the id it was given, which is what deduplication on INGEST needs.
 */
export function createConnectionMapper(
  ctx: ConnectionContext,
): (update: Partial<ConnectionState>, capturedAt?: Date) => UnsequencedEvent[] {
  let lastConnection: ConnectionState['connection'] | undefined;
  let lastQr: string | undefined;
  const willReconnect = ctx.willReconnect ?? (() => true);

  return (update, capturedAt = new Date()) => {
    const at = capturedAt.toISOString();
    const base = {
      tenant: ctx.tenant,
      instance: ctx.instance,
      schema_version: SCHEMA_VERSION,
      occurred_at: at,
      captured_at: at,
      source: 'baileys',
    } as const;
    const events: UnsequencedEvent[] = [];

    if (update.qr !== undefined && update.qr !== '' && update.qr !== lastQr) {
      lastQr = update.qr;
      events.push({ ...base, id: newEventId(), type: 'session.qr', data: { qr: update.qr } });
    }
    const connection = update.connection;
    if (connection === undefined || connection === lastConnection) return events;
    lastConnection = connection;

    if (connection === 'open') {
      lastQr = undefined;
      const self = ctx.self?.();
      const { jid, lid } = splitAddress(self?.jid, self?.lid);
      const data = {
        ...(jid ? { jid } : {}),
        ...(lid ? { lid } : {}),
        ...(self?.pushName ? { push_name: self.pushName.slice(0, 256) } : {}),
      };
      events.push({ ...base, id: newEventId(), type: 'session.connected', data });
    } else if (connection === 'close') {
      const error = update.lastDisconnect?.error;
      const statusCode = readStatusCode(error);
      const reason = describeDisconnect(statusCode, error);
      if (statusCode === DisconnectReason.loggedOut) {
        events.push({ ...base, id: newEventId(), type: 'session.logged_out', data: { reason } });
      } else {
        const data = {
          reason,
          will_reconnect: willReconnect(statusCode),
          ...(statusCode !== undefined ? { status_code: statusCode } : {}),
        };
        events.push({ ...base, id: newEventId(), type: 'session.disconnected', data });
      }
    }
    return events;
  };
}

function describeDisconnect(statusCode: number | undefined, error: Error | undefined): string {
  const name =
    statusCode === undefined
      ? undefined
      : (DisconnectReason as Record<number, string | undefined>)[statusCode];
  const parts = [name, error?.message].filter(
    (part): part is string => part !== undefined && part !== '',
  );
  return (parts.length > 0 ? parts.join(': ') : 'connection closed').slice(0, 1024);
}
