/**
 * Test driver (not part of the service): starts capture in this process and feeds it recorded
 * `messages.upsert` payloads through Baileys' own event buffer, one message per emit with ids
 * `drv-<n>` for n in [DRIVER_FROM, DRIVER_TO]. After each emit it prints `emitted <n>` (a pipe
 * write is synchronous: a line printed is a message handed over, which must survive a SIGKILL).
 * Every DRIVER_EVERY messages it waits until the instance's seq counter shows them stored in
 * the outbox and prints `durable <n>`. Prints `done` after the last one is on INGEST.
 *
 *   node --import tsx src/capture-driver.ts   (with the service env plus DRIVER_TENANT, …)
 */
import { makeEventBuffer } from '@whiskeysockets/baileys';
import { forTenant } from '@switchyard/db';
import { startCapture } from './app.ts';
import { loadCaptureConfig } from './config.ts';
import { lastSeq } from './sequence.ts';
import { fixture, silentLogger } from './test-support.ts';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is required`);
  return value;
};
const tenant = env('DRIVER_TENANT');
const instance = env('DRIVER_INSTANCE');
const from = Number(env('DRIVER_FROM'));
const to = Number(env('DRIVER_TO'));
const every = Number(process.env['DRIVER_EVERY'] ?? '10');

const capture = await startCapture(loadCaptureConfig(), { logger: silentLogger });
const ev = makeEventBuffer(silentLogger);
const adapter = capture.attach({ ev, tenant, instance });
const db = forTenant(capture.context.pool, tenant);
const template = fixture('text-received-lid').upsert;
const seqAtStart = await lastSeq(db, instance);

for (let n = from; n <= to; n++) {
  const message = template.messages[0];
  if (message === undefined) throw new Error('fixture has no message');
  // Fresh top-level objects per emit: Baileys' buffer mutates what it is given.
  ev.emit('messages.upsert', {
    type: template.type,
    messages: [{ ...message, key: { ...message.key, id: `drv-${n}` } }],
  });
  process.stdout.write(`emitted ${n}\n`);
  if ((n - from + 1) % every === 0 || n === to) {
    const want = seqAtStart + (n - from + 1);
    while ((await lastSeq(db, instance)) < want) await new Promise((r) => setTimeout(r, 2));
    process.stdout.write(`durable ${n}\n`);
  }
}
await adapter.idle();
process.stdout.write('done\n');
await capture.stop();
