// Where `pnpm bench e2e` gets its events: tenant publishing (envelopes published to INGEST) or
// capture (WhatsApp messages handed to Baileys' emitters in the capture process). Either way the
// bench knows each event's id before it is sent, so it can wait for exactly those ids.
import type { ChildProcess } from 'node:child_process';
import type { JetStreamClient } from 'nats';
import { messageEventId } from '../../services/capture/src/message-mapper.ts';
import { FEED_CHAT, fedMessage, fedMessagePrefix, type FeedCommand, type FeedReply } from './capture-load.ts';
import { messageEvent, offerAtRate, publishAll, type OutgoingEvent } from './load.ts';

export type SourceName = 'publish' | 'capture';

export interface LoadSource {
  /** For the JSON's `config.source`. */
  readonly label: string;
  /**
   * Selects a phase's rows in a tenant's `events` table: `sql` is a predicate with one parameter,
   * `pattern(phase)` its value. Polled while a phase runs, so it must stay cheap.
   */
  readonly match: { sql: string; pattern(phase: string): string };
  /** The ids of the phase's first `count` events, in sending order. */
  ids(phase: string, count: number): string[];
  /**
   * Sends the phase's `count` events: as fast as the source goes, or open loop at `rate`/s.
   * Resolves once all are handed over (publishing: acknowledged by INGEST; capture: emitted to
   * Baileys) with how long that took.
   */
  send(phase: string, count: number, options: { rate?: number; onProgress?: (sent: number) => void }): Promise<{ seconds: number }>;
}

/** Tenant publishing: each tenant's numbers `phone-1…` in turn, each number's seq 1, 2, 3 … across phases. */
export function publishingSource(js: JetStreamClient, tenants: readonly string[], instances: number): LoadSource {
  const seqs = new Map<string, number>();
  const made = new Map<string, number>();
  const id = (phase: string, i: number) => `${phase}-${tenants[i % tenants.length]}-${i}`;
  /** The tenant's next event: on its next instance in turn, with that instance's next seq. */
  const nextEvent = (phase: string, i: number): OutgoingEvent => {
    const tenant = tenants[i % tenants.length]!;
    const n = made.get(tenant) ?? 0;
    made.set(tenant, n + 1);
    const instance = `phone-${(n % instances) + 1}`;
    const seq = (seqs.get(`${tenant}/${instance}`) ?? 0) + 1;
    seqs.set(`${tenant}/${instance}`, seq);
    return messageEvent(tenant, instance, id(phase, i), seq);
  };
  return {
    label: 'tenant publishing (JetStream)',
    match: { sql: 'id LIKE $1', pattern: (phase) => `${phase}-%` },
    ids: (phase, count) => Array.from({ length: count }, (_, i) => id(phase, i)),
    async send(phase, count, { rate, onProgress }) {
      const started = performance.now();
      if (rate === undefined) {
        const events = Array.from({ length: count }, (_, i) => nextEvent(phase, i));
        await publishAll(js, events, 256, (done) => done % 500 === 0 && onProgress?.(done));
      } else {
        await offerAtRate(js, { rate, seconds: count / rate, make: (i) => nextEvent(phase, i), ...(onProgress ? { onSent: onProgress } : {}) });
      }
      return { seconds: (performance.now() - started) / 1000 };
    },
  };
}

/**
 * Capture: the capture process runs bench/fleet/capture-feed.ts, which emits WhatsApp messages
 * through Baileys' event buffers. Event ids are capture's own (derived from the message key), and
 * capture numbers each instance's seq.
 */
export function captureSource(feed: ChildProcess, tenants: readonly string[], instances: number): LoadSource {
  return {
    label: 'capture (Baileys event buffer in the capture process)',
    match: { sql: "data->>'message_id' LIKE $1", pattern: (phase) => `${fedMessagePrefix(phase)}%` },
    ids: (phase, count) =>
      Array.from({ length: count }, (_, i) => {
        const { tenant, instance, messageId } = fedMessage(phase, i, tenants, instances);
        return messageEventId(tenant, instance, FEED_CHAT, messageId, false);
      }),
    send(phase, count, { rate, onProgress }) {
      return new Promise((resolve, reject) => {
        const onMessage = (reply: FeedReply) => {
          if (reply.phase !== phase) return;
          if (reply.op === 'progress') onProgress?.(reply.emitted);
          else {
            cleanup();
            if (reply.op === 'done') resolve({ seconds: reply.seconds });
            else reject(new Error(`the capture feed failed in phase ${phase}: ${reply.error}`));
          }
        };
        const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
          cleanup();
          reject(new Error(`the capture process exited (${signal ?? code}) while feeding phase ${phase}`));
        };
        const cleanup = () => {
          feed.off('message', onMessage);
          feed.off('exit', onExit);
        };
        feed.on('message', onMessage);
        feed.once('exit', onExit);
        const command: FeedCommand = { op: 'feed', phase, tenants: [...tenants], instances, count, ...(rate !== undefined ? { rate } : {}) };
        feed.send(command);
      });
    },
  };
}
