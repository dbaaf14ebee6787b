import { AckPolicy, DeliverPolicy, type NatsConnection } from 'nats';
import { randomName } from './random.ts';

/**
 * Reads the messages on a stream subject from the start through a throwaway ephemeral consumer,
 * leaving the stream and its durables untouched. Waits until `expected` arrived (or `timeoutMs`),
 * then one more short fetch, so extra (duplicate) messages are returned too and a test can
 * assert exact counts.
 */
export async function readStream(
  nc: NatsConnection,
  stream: string,
  subject: string,
  expected: number,
  timeoutMs = 15_000,
): Promise<Uint8Array[]> {
  const jsm = await nc.jetstreamManager();
  const name = randomName('reader');
  await jsm.consumers.add(stream, { name, filter_subject: subject, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All });
  try {
    const consumer = await nc.jetstream().consumers.get(stream, name);
    const out: Uint8Array[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < expected && Date.now() < deadline) {
      for await (const m of await consumer.fetch({ max_messages: expected - out.length, expires: 1000 })) out.push(m.data);
    }
    for await (const m of await consumer.fetch({ max_messages: 100, expires: 1000 })) out.push(m.data);
    return out;
  } finally {
    await jsm.consumers.delete(stream, name);
  }
}

/** Decodes JSON messages read from a stream. */
export function decodeJson<T = unknown>(messages: Uint8Array[]): T[] {
  const decoder = new TextDecoder();
  return messages.map((m) => JSON.parse(decoder.decode(m)) as T);
}
