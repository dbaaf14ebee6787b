import {
  Browsers,
  makeCacheableSignalKeyStore,
  makeWASocket,
  type AuthenticationState,
  type BaileysEventEmitter,
  type Contact,
} from '@whiskeysockets/baileys';
import type { Logger } from '@switchyard/runtime';
import type { BatchedEventSource } from './baileys-adapter.ts';

/**
 * The part of a Baileys socket (`makeWASocket`'s result) the session runner uses. Tests build one
 * around Baileys' own `makeEventBuffer`, since no test can reach WhatsApp.
 */
export interface CaptureSocket {
  readonly ev: BaileysEventEmitter & BatchedEventSource;
  /** Who the socket is logged in as, once open. */
  readonly user: Contact | undefined;
  requestPairingCode(phoneNumber: string): Promise<string>;
  /** Logs the device out on WhatsApp's side (the creds stop working). */
  logout(msg?: string): Promise<void>;
  /** Closes the connection; the creds stay valid. */
  end(error: Error | undefined): void | Promise<void>;
}

export interface SocketInput {
  tenant: string;
  instance: string;
  auth: AuthenticationState;
  logger: Logger;
}

/** Creates one socket for one connection attempt. */
export type SocketFactory = (input: SocketInput) => CaptureSocket;

/**
 * The production factory. Keys go through Baileys' in-memory cache in front of Postgres, since
 * Baileys reads signal keys per message. No history sync beyond what WhatsApp pushes, and the
 * device does not announce itself online (so the phone keeps getting notifications).
 */
export const baileysSocketFactory: SocketFactory = ({ auth, logger }) =>
  makeWASocket({
    auth: { creds: auth.creds, keys: makeCacheableSignalKeyStore(auth.keys, logger) },
    logger,
    browser: Browsers.ubuntu('Switchyard'),
    markOnlineOnConnect: false,
    syncFullHistory: false,
  });
