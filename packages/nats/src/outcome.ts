import type { Attempt, DlqReason } from '@switchyard/schema';

/** A message as handlers see it: no JetStream API, so only the consume loop can settle it. */
export interface InboundMessage {
  subject: string;
  data: Uint8Array;
  headers: Record<string, string[]>;
  /** The publisher's `Nats-Msg-Id`, i.e. the event id, when it set one. */
  eventId?: string;
  /** 1 on the first delivery. */
  deliveryCount: number;
  streamSeq: number;
  /** When JetStream stored the message, in ms since the epoch. */
  storedAtMs: number;
  tenant: string;
}

/** What a handler decided; the consume loop turns it into ack / nak / DLQ hand-off. */
export type Outcome =
  | { kind: 'ack' }
  | { kind: 'retry'; delayMs?: number; error: string }
  | { kind: 'dead-letter'; reason: DlqReason; error: string; attempts?: Attempt[] };

export type Handler = (msg: InboundMessage) => Promise<Outcome>;

const ACK: Outcome = Object.freeze({ kind: 'ack' });

/** The side effect is durable: the message is done. */
export function ack(): Outcome {
  return ACK;
}

/** Try again later; after the last allowed delivery this becomes a MAX_DELIVERIES dead-letter. */
export function retry(error: string, delayMs?: number): Outcome {
  return delayMs === undefined ? { kind: 'retry', error } : { kind: 'retry', error, delayMs };
}

/** No retry here can help: hand the raw message to the DLQ now. */
export function deadLetter(reason: DlqReason, error: string, attempts?: Attempt[]): Outcome {
  return attempts === undefined ? { kind: 'dead-letter', reason, error } : { kind: 'dead-letter', reason, error, attempts };
}
