// The capture service as a process that something can feed. Capture's own main.ts starts with no
// WhatsApp sessions (the session manager is a later issue) and nothing outside the process can
// reach Baileys' emitter, so this entry starts the same service (`startCapture`, same config,
// same shutdown) and plays the part of one WhatsApp socket: it emits `messages.upsert` batches
// through Baileys' own `makeEventBuffer`, like a live socket's `ev`.
//
// It emits message k = CHAOS_FROM, CHAOS_FROM+1, … < CHAOS_TO at CHAOS_RATE per second, and after
// each batch has been handed to Baileys prints `CHAOS emitted <last k> pending <unpublished>` on
// stdout (a pipe: written synchronously on Linux, so a line printed is a batch handed over). A
// test that SIGKILLs it restarts it from the first k it has not seen reported — what WhatsApp
// does with messages a device never got — so an id emitted and reported must reach Postgres.
// CHAOS_BURST_AT/CHAOS_BURST: at k = CHAOS_BURST_AT emit CHAOS_BURST messages in one batch, to
// fill capture's queue before a kill. `CHAOS durable <n>` lines say how many are in the outbox.
// Capture's local spool (CAPTURE_SPOOL_DIR) must be the same directory across the kill and the
// restart, as an emptyDir is across a container restart: unless set, it is a directory named
// after this chaos environment's scratch database.
import { join } from 'node:path';
import { makeEventBuffer, type WAMessage } from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { createPool, forTenant } from '@switchyard/db';
import { runService } from '@switchyard/runtime';
import { startCapture } from '../../../services/capture/src/app.ts';
import { loadCaptureConfig } from '../../../services/capture/src/config.ts';
import { lastSeq } from '../../../services/capture/src/sequence.ts';
import { CHAOS_SPOOL_ROOT, DRIVER_CHAT, driverMessageId } from './capture-driver-ids.ts';

function message(k: number): WAMessage {
  return {
    key: { remoteJid: DRIVER_CHAT, fromMe: false, id: driverMessageId(k) },
    message: { conversation: `chaos ${k}` },
    messageTimestamp: Math.floor(Date.now() / 1000),
    pushName: 'Chaos',
  };
}

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`${name} must be a non-negative integer (got ${raw})`);
  return value;
}

const tenant = process.env['CHAOS_TENANT'] ?? '';
const instance = process.env['CHAOS_INSTANCE'] ?? 'phone-1';
const from = intEnv('CHAOS_FROM', 0);
const to = intEnv('CHAOS_TO', 0);
const rate = intEnv('CHAOS_RATE', 50);
const burstAt = intEnv('CHAOS_BURST_AT', Number.MAX_SAFE_INTEGER);
const burst = intEnv('CHAOS_BURST', 0);

if (!process.env['CAPTURE_SPOOL_DIR']) {
  const database = new URL(process.env['DATABASE_URL'] ?? 'postgres://localhost/switchyard').pathname.slice(1);
  process.env['CAPTURE_SPOOL_DIR'] = join(CHAOS_SPOOL_ROOT, database || 'default');
}

await runService({
  service: 'capture',
  start: async () => {
    const capture = await startCapture(loadCaptureConfig());
    if (tenant !== '' && to > from) {
      const ev = makeEventBuffer(pino({ level: 'silent' }));
      const adapter = capture.attach({ ev, tenant, instance });
      let next = from;
      const started = performance.now();
      const timer = setInterval(() => {
        const due = Math.min(to, from + Math.floor(((performance.now() - started) / 1000) * rate));
        const batch: WAMessage[] = [];
        while (next < due || (next === burstAt && batch.length === 0 && next < to)) {
          const size = next === burstAt ? Math.min(burst, to - next) : 1;
          for (let i = 0; i < size; i++) batch.push(message(next++));
        }
        if (batch.length === 0) return;
        ev.emit('messages.upsert', { type: 'notify', messages: batch });
        process.stdout.write(`CHAOS emitted ${next - 1} pending ${adapter.pending()}\n`);
        if (next >= to) clearInterval(timer);
      }, 10);
      // The outbox numbers what it stores: the instance's last seq is how many captured events are
      // durable, which tells a loss in the outbox apart from one in the in-memory staging window.
      const pool = createPool({
        url: process.env['DATABASE_URL'] ?? '',
        max: 1,
        applicationName: 'chaos-capture-driver',
      });
      const db = forTenant(pool, tenant);
      setInterval(() => {
        lastSeq(db, instance).then(
          (seq) => process.stdout.write(`CHAOS durable ${seq}\n`),
          () => undefined,
        );
      }, 20).unref();
    }
    return capture;
  },
});
