// Shared by this service's session tests only: sockets around Baileys' own event buffer.
import { makeEventBuffer, type ConnectionState, type Contact } from '@whiskeysockets/baileys';
import { connect, type NatsConnection } from 'nats';
import { createApiKey, type Pool } from '@switchyard/db';
import { announceTenant, ensureStreams } from '@switchyard/nats';
import { parseEnvelope, STREAMS, type EventEnvelope } from '@switchyard/schema';
import { randomName, testServiceEnv } from '@switchyard/testing';
import { startCapture, type CaptureService } from './app.ts';
import { loadCaptureConfig } from './config.ts';
import type { CaptureSocket, SocketFactory, SocketInput } from './socket-factory.ts';
import { readStream, silentLogger } from './test-support.ts';

/** A socket that never reaches WhatsApp: its `ev` is a real Baileys event buffer the test drives. */
export interface TestSocket extends CaptureSocket {
  readonly input: SocketInput;
  user: Contact | undefined;
  readonly pairingRequests: string[];
  ended: boolean;
  loggedOut: boolean;
}

export interface TestSockets {
  factory: SocketFactory;
  /** Every socket made, oldest first. */
  readonly all: TestSocket[];
  /** Sockets made for one instance, oldest first. */
  of(tenant: string, instance: string): TestSocket[];
}

export function testSockets(): TestSockets {
  const all: TestSocket[] = [];
  const factory: SocketFactory = (input) => {
    const ev = makeEventBuffer(silentLogger);
    const sock: TestSocket = {
      input,
      ev,
      user: undefined,
      pairingRequests: [],
      ended: false,
      loggedOut: false,
      async requestPairingCode(phone) {
        sock.pairingRequests.push(phone);
        return 'ABCD1234';
      },
      // What Baileys does: the server answers a logout by closing with 401.
      async logout() {
        sock.loggedOut = true;
        ev.emit('connection.update', closeUpdate(401, 'Intentional Logout'));
      },
      end() {
        if (sock.ended) return;
        sock.ended = true;
        ev.emit('connection.update', { connection: 'close', lastDisconnect: { error: undefined, date: new Date() } });
      },
    };
    all.push(sock);
    return sock;
  };
  return {
    factory,
    all,
    of: (tenant, instance) => all.filter((s) => s.input.tenant === tenant && s.input.instance === instance),
  };
}

/** `connection.update` for a close with a DisconnectReason status, as Baileys reports it (a Boom). */
export function closeUpdate(statusCode: number, message = 'closed'): Partial<ConnectionState> {
  const error = Object.assign(new Error(message), { output: { statusCode } });
  return { connection: 'close', lastDisconnect: { error, date: new Date() } };
}

export interface CaptureFleet {
  natsUrl: string;
  nc: NatsConnection;
  tenantBucket: string;
  leaseBucket: string;
  start(extra?: Record<string, string>, sockets?: TestSockets): Promise<CaptureService>;
  /** Provisioned tenant → announced in this fleet's registry. */
  announce(tenant: string): Promise<void>;
  ingested(tenant?: string): Promise<EventEnvelope[]>;
  stop(): Promise<void>;
}

/** Capture replicas against one private NATS, with their own tenant and lease buckets. */
export async function captureFleet(natsUrl: string): Promise<CaptureFleet> {
  const nc = await connect({ servers: natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const jsm = await nc.jetstreamManager();
  await ensureStreams(jsm);
  const tenantBucket = randomName('tenants').replace(/-/g, '_');
  const leaseBucket = randomName('leases').replace(/-/g, '_');
  const started: CaptureService[] = [];
  return {
    natsUrl,
    nc,
    tenantBucket,
    leaseBucket,
    async start(extra = {}, sockets = testSockets()) {
      const config = loadCaptureConfig(
        testServiceEnv(natsUrl, {
          CAPTURE_LEASE_TTL: '3s',
          CAPTURE_CLAIM_INTERVAL: '300ms',
          CAPTURE_REBALANCE_INTERVAL: '1s',
          CAPTURE_RECONNECT_INITIAL: '100ms',
          CAPTURE_RECONNECT_MAX: '400ms',
          CAPTURE_RETRY_INITIAL: '50ms',
          CAPTURE_RETRY_MAX: '500ms',
          CAPTURE_PUBLISH_TIMEOUT: '1s',
          ...extra,
        }),
      );
      const capture = await startCapture(config, {
        logger: silentLogger,
        tenantBucket,
        leaseBucket,
        socketFactory: sockets.factory,
      });
      started.push(capture);
      return capture;
    },
    async announce(tenant) {
      await announceTenant(nc.jetstream(), tenant, {}, { bucket: tenantBucket });
    },
    async ingested(tenant) {
      const events: EventEnvelope[] = [];
      for (const m of await readStream(jsm, STREAMS.ingest)) {
        const parsed = parseEnvelope(m.data);
        if (parsed.ok && (tenant === undefined || parsed.event.tenant === tenant)) events.push(parsed.event);
      }
      return events;
    },
    async stop() {
      for (const c of started.splice(0)) await c.stop();
      await nc.drain();
    },
  };
}

export async function tenantKeys(pool: Pool, tenant: string): Promise<{ admin: string; read: string }> {
  const admin = (await createApiKey(pool, { tenant, role: 'admin' })).key;
  const read = (await createApiKey(pool, { tenant, role: 'read' })).key;
  return { admin, read };
}
