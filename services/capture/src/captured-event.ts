import type { EventEnvelope } from '@switchyard/schema';

/**
 * An envelope as the mappers build it: complete except `seq`, which the ingest publisher assigns
 * per instance in emit order (allocating it needs Postgres, and mappers stay synchronous so
 * Baileys' emitter is never blocked).
 */
export type UnsequencedEvent = EventEnvelope extends infer E
  ? E extends EventEnvelope
    ? Omit<E, 'seq'>
    : never
  : never;

/** One sequenced event, ready for INGEST. */
export function withSeq(event: UnsequencedEvent, seq: number): EventEnvelope {
  return { ...event, seq };
}

/** Who this session is logged in as, when the socket knows (`sock.user`); used for `sender_*` of own messages. */
export interface SelfIdentity {
  jid?: string | undefined;
  lid?: string | undefined;
  pushName?: string | undefined;
}
