// Shared by this service's tests only: the recorded payloads of test/fixtures/baileys/events.json.
import { readFileSync } from 'node:fs';
import { BufferJSON, type BaileysEventMap } from '@whiskeysockets/baileys';
import { isRecord } from './wa-readers.ts';

const FIXTURE_FILE = new URL('../../../test/fixtures/baileys/events.json', import.meta.url);

export interface EventFixture {
  name: string;
  description: string;
  event: keyof BaileysEventMap;
  payload: unknown;
}

/**
 * Every recorded case, in file order, revived with BufferJSON (bytes are Buffers again) and
 * with call dates as Dates, as Baileys emits them. Parsed fresh on every call: Baileys' event
 * buffer mutates what it is given.
 */
export function loadEventFixtures(): EventFixture[] {
  const parsed: unknown = JSON.parse(readFileSync(FIXTURE_FILE, 'utf8'), BufferJSON.reviver);
  if (!isRecord(parsed) || !Array.isArray(parsed['cases'])) throw new Error('events.json has no cases');
  return (parsed['cases'] as unknown[]).map((item) => {
    if (!isRecord(item) || typeof item['name'] !== 'string' || typeof item['event'] !== 'string')
      throw new Error('malformed event fixture');
    const event = item['event'] as keyof BaileysEventMap;
    const payload = event === 'call' ? reviveCallDates(item['payload']) : item['payload'];
    return {
      name: item['name'],
      description: typeof item['description'] === 'string' ? item['description'] : '',
      event,
      payload,
    };
  });
}

function reviveCallDates(payload: unknown): unknown {
  if (!Array.isArray(payload)) return payload;
  return payload.map((call: unknown) =>
    isRecord(call) && typeof call['date'] === 'string' ? { ...call, date: new Date(call['date']) } : call,
  );
}

/**
 * One case's payload, typed as the event it was recorded for. The recorder built it from
 * Baileys' own types (scripts/event-cases.ts), which is what makes the cast sound.
 */
export function eventPayload<K extends keyof BaileysEventMap>(name: string, event: K): BaileysEventMap[K] {
  const found = loadEventFixtures().find((c) => c.name === name);
  if (!found) throw new Error(`no event fixture ${name}`);
  if (found.event !== event) throw new Error(`fixture ${name} is ${found.event}, not ${event}`);
  return found.payload as BaileysEventMap[K];
}

/** A one-event batch, as `ev.process` hands a lone emit to its handler. */
export function batchOf(fixture: EventFixture): Partial<BaileysEventMap> {
  const batch: Partial<BaileysEventMap> = { [fixture.event]: fixture.payload };
  return batch;
}

/** Emits a recorded case on a Baileys emitter, as the socket would. */
export function emitFixture(
  ev: { emit<K extends keyof BaileysEventMap>(event: K, arg: BaileysEventMap[K]): boolean },
  fixture: EventFixture,
): void {
  // Recorded from Baileys' own types (scripts/event-cases.ts): the payload matches its event.
  ev.emit(fixture.event, fixture.payload as never);
}
