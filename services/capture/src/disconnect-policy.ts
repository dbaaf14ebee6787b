import { DisconnectReason } from '@whiskeysockets/baileys';

/** What a session does after its socket closed. */
export type DisconnectAction =
  /** Logged out on the phone (401): the creds are dead; a new pairing is needed. */
  | { kind: 'logged-out' }
  /** Another client took over the session (440): reconnecting would kick it off in turn, forever. */
  | { kind: 'replaced' }
  /** Baileys asks for a fresh socket (515, e.g. right after pairing): reconnect at once. */
  | { kind: 'reconnect-now' }
  /** Anything else (lost, timed out, 5xx…): reconnect after an exponential backoff with jitter. */
  | { kind: 'backoff' };

/** Decides by Baileys' `DisconnectReason` (the close's `lastDisconnect.error.output.statusCode`). */
export function disconnectAction(statusCode: number | undefined): DisconnectAction {
  switch (statusCode) {
    case DisconnectReason.loggedOut:
      return { kind: 'logged-out' };
    case DisconnectReason.connectionReplaced:
      return { kind: 'replaced' };
    case DisconnectReason.restartRequired:
      return { kind: 'reconnect-now' };
    default:
      return { kind: 'backoff' };
  }
}

/** For `session.disconnected.will_reconnect`: whether the session manager will try again. */
export function willReconnect(statusCode: number | undefined): boolean {
  const { kind } = disconnectAction(statusCode);
  return kind === 'reconnect-now' || kind === 'backoff';
}

/** DisconnectReason's name for a status code (`timedOut`, …), for logs and metric labels. */
export function disconnectReasonName(statusCode: number | undefined): string {
  if (statusCode === undefined) return 'unknown';
  const name = (DisconnectReason as Record<number, string | undefined>)[statusCode];
  return name ?? `status_${statusCode}`;
}
