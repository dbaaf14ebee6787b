// Shared by this service's tests only.
import { readFileSync } from 'node:fs';
import { BufferJSON, type BaileysEventMap, type WAMessage } from '@whiskeysockets/baileys';
import { makeEventBuffer } from '@whiskeysockets/baileys';
import type { JetStreamClient, JetStreamManager, StoredMsg } from 'nats';
import { pino, type Logger } from 'pino';
import type { TenantQueryable } from '@switchyard/db';
import { createMetricsRegistry, type Registry } from '@switchyard/runtime';
import { attachCaptureAdapter, type CaptureAdapter, type CaptureAdapterOptions } from './baileys-adapter.ts';
import { captureMetrics, type CaptureMetrics } from './metrics.ts';
import { isRecord } from './wa-readers.ts';

export type Upsert = BaileysEventMap['messages.upsert'];

export interface UpsertFixture {
  name: string;
  description: string;
  upsert: Upsert;
}

const FIXTURE_FILE = new URL(
  '../../../test/fixtures/baileys/messages-upsert.json',
  import.meta.url,
);

/**
 * The recorded `messages.upsert` payloads (scripts/record-fixtures.ts), revived with Baileys'
 * BufferJSON so bytes are Buffers again, as Baileys emits them. Parsed fresh on every call:
 * Baileys' event buffer mutates the messages it is given.
 */
export function loadUpsertFixtures(): Map<string, UpsertFixture> {
  const parsed: unknown = JSON.parse(readFileSync(FIXTURE_FILE, 'utf8'), BufferJSON.reviver);
  if (!isRecord(parsed) || !Array.isArray(parsed['cases']))
    throw new Error('fixture file has no cases');
  const out = new Map<string, UpsertFixture>();
  for (const item of parsed['cases'] as unknown[]) {
    const fixture = toFixture(item);
    out.set(fixture.name, fixture);
  }
  return out;
}

export function fixture(name: string): UpsertFixture {
  const found = loadUpsertFixtures().get(name);
  if (!found) throw new Error(`no fixture ${name}`);
  return found;
}

/**
 * A fresh `messages.upsert` of the recorded text message with its WhatsApp id replaced: fresh
 * top-level objects per call, since Baileys' event buffer mutates what it is given.
 */
export function upsertWithId(id: string, template: UpsertFixture['upsert'] = fixture('text-received-lid').upsert) {
  const message = template.messages[0];
  if (message === undefined) throw new Error('fixture has no message');
  return { type: template.type, messages: [{ ...message, key: { ...message.key, id } }] };
}

function toFixture(item: unknown): UpsertFixture {
  if (!isRecord(item) || typeof item['name'] !== 'string' || !isRecord(item['upsert']))
    throw new Error('malformed fixture case');
  const { type, messages } = item['upsert'];
  if ((type !== 'notify' && type !== 'append') || !Array.isArray(messages))
    throw new Error(`malformed upsert in ${item['name']}`);
  // Checked enough to trust as WAMessages: every entry is an object with a key object.
  if (!messages.every((m: unknown) => isRecord(m) && isRecord(m['key'])))
    throw new Error(`message without key in ${item['name']}`);
  return {
    name: item['name'],
    description: typeof item['description'] === 'string' ? item['description'] : '',
    upsert: { type, messages: messages as WAMessage[] },
  };
}

/** Baileys' own emitter wants a logger; tests keep it quiet unless LOG_LEVEL says otherwise. */
export const silentLogger: Logger = pino({ level: process.env['LOG_LEVEL'] ?? 'silent' });

/** Every stored message of a stream, in stream order. */
export async function readStream(jsm: JetStreamManager, stream: string): Promise<StoredMsg[]> {
  const { state } = await jsm.streams.info(stream);
  const out: StoredMsg[] = [];
  if (state.messages === 0) return out;
  for (let seq = state.first_seq; seq <= state.last_seq; seq++)
    out.push(await jsm.streams.getMessage(stream, { seq }));
  return out;
}

/**
 * A capture adapter of `instance` fed through its own Baileys buffer, with silent logs and
 * metrics of its own (`options` may be built from them); `emit(n)` hands it n new messages,
 * named `<prefix>-1`, `-2` … (`prefix` defaults to the instance) and kept in order in `ids`,
 * which two owners of one instance may share.
 */
export function capturing(
  where: { tenant: string; js: JetStreamClient; db: TenantQueryable },
  instance: string,
  options: Partial<CaptureAdapterOptions> | ((metrics: CaptureMetrics) => Partial<CaptureAdapterOptions>) = {},
  ids: string[] = [],
  prefix = instance,
): { adapter: CaptureAdapter; emit: (n?: number) => void; ids: string[]; registry: Registry } {
  const registry = createMetricsRegistry('capture');
  const metrics = captureMetrics(registry);
  const ev = makeEventBuffer(silentLogger);
  const adapter = attachCaptureAdapter({
    ev,
    ...where,
    instance,
    logger: silentLogger,
    metrics,
    ...(typeof options === 'function' ? options(metrics) : options),
  });
  const emit = (n = 1): void => {
    for (let i = 0; i < n; i++) {
      const id = `${prefix}-${ids.length + 1}`;
      ids.push(id);
      ev.emit('messages.upsert', upsertWithId(id));
    }
  };
  return { adapter, emit, ids, registry };
}
