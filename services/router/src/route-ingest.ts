import type { JetStreamClient, NatsConnection } from 'nats';
import {
  ack,
  ATOMIC_BATCH_MIN_MESSAGES,
  atomicBatchesSupported,
  deadLetter,
  publishAtomicRun,
  publishEvent,
  retry,
  type BatchHandler,
  type Handler,
  type InboundMessage,
  type Outcome,
  type PublishResult,
} from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import {
  encodeEnvelope,
  eventsSubject,
  isSubjectParseError,
  parseEnvelope,
  parseSubject,
  type EventEnvelope,
} from '@switchyard/schema';
import type { RouterMetrics } from './metrics.ts';
import type { SequenceGapTracker } from './sequence-gaps.ts';

export interface RouteIngestDeps {
  js: JetStreamClient;
  logger: Logger;
  metrics: RouterMetrics;
  maxPayloadBytes: number;
  /** Detects gaps in each instance's seq before its event reaches EVENTS. */
  gaps?: SequenceGapTracker;
}

/**
 * The gate every event passes: INGEST → validate → EVENTS. Bad input is dead-lettered at once
 * (no retries: it will not get better) with a specific reason and its raw bytes; a publish
 * failure is thrown, so JetStream redelivers and nothing is lost. One message at a time: the
 * history durable's handler (batches there need no order).
 */
export function routeIngest(deps: RouteIngestDeps): Handler {
  return async (msg: InboundMessage): Promise<Outcome> => {
    const checked = validate(deps, msg);
    if (!checked.ok) return checked.outcome;
    const event = checked.event;
    if (event.seq !== undefined) await deps.gaps?.check(event.tenant, event.instance, event.seq);
    const result = await publish(deps, event);
    routed(deps, event, result);
    return ack();
  };
}

export interface RealtimeRouteDeps extends RouteIngestDeps {
  /** Deliveries before the consume loop dead-letters a retried message (ROUTER_MAX_DELIVER). */
  maxDeliver: number;
  /** With it, a batch's events go to EVENTS as atomic batches first (see publishAll). */
  nc?: NatsConnection;
  /**
   * The fewest events sent as atomic batches (at least ATOMIC_BATCH_MIN_MESSAGES). The router
   * passes its full batch size: only a tenant with a backlog fills a batch, and a backlog is where
   * batches pay. Atomic batches of a flood the router keeps up with (64 and more) measured worse
   * for the other tenants: their p99 beside the flood ×1.9–2.5 of baseline, against ×1.3–1.4.
   */
  atomicMinMessages?: number;
}

/**
 * The realtime path, one batch of a tenant's INGEST messages (stream order) at a time: validate
 * each message, then store every valid one in EVENTS in stream order — as atomic batches when
 * there are at least `atomicMinMessages` (a backlog), else (and for whatever a refused batch
 * left) each published without awaiting the previous PubAck (one connection, so JetStream stores
 * them in send order), then all awaited. Order per instance holds because nothing of an instance
 * is published while one of its events is being retried: after a failed publish, every later
 * message of the instance is answered `retry` unpublished (`instanceFence`) until the failed one
 * is routed or dead-lettered on its last delivery. Later messages of the same batch were already sent when the
 * failure is known: those that failed too are retried; those that were stored are acked (a retry
 * would be a deduplicated no-op), which breaks order only when one message is refused while the
 * ones behind it are stored — a message-specific refusal, e.g. EVENTS' max_msg_size; a lost
 * connection or a stream outage fails them all. Only the owner of the tenant's partition runs
 * this (app.ts), so no other replica publishes for the instance meanwhile.
 */
export function routeIngestBatch(deps: RealtimeRouteDeps): BatchHandler {
  const fence = instanceFence();
  const atomicMin = Math.max(ATOMIC_BATCH_MIN_MESSAGES, deps.atomicMinMessages ?? 0);

  /**
   * A message retried because an earlier one of its instance is held comes back too, and possibly
   * after a later one (its backoff grows with its own delivery count): until it is routed it
   * holds the instance as well. On its last delivery it is dead-lettered and never returns.
   */
  function holdIfReturning(instance: string, msg: InboundMessage): void {
    if (msg.deliveryCount < deps.maxDeliver) fence.hold(instance, msg.streamSeq);
    else fence.passed(instance, msg.streamSeq);
  }

  /**
   * Stores a run of events as consecutive atomic batches (publishAtomicRun): a PubAck per batch
   * instead of per event, all or nothing per batch, in order. Acks the stored prefix and answers
   * the rest — all of the run when the server refused or lacks atomic batches — for publishOneByOne.
   * Runs shorter than `atomicMin` (a tenant without a backlog) go one by one at once.
   */
  async function publishAtomically(batch: readonly Routable[], outcomes: Outcome[]): Promise<readonly Routable[]> {
    const { nc } = deps;
    if (nc === undefined || batch.length < atomicMin || !atomicBatchesSupported(nc)) return batch;
    const run = await publishAtomicRun(
      nc,
      batch.map(({ event }) => ({ subject: eventsSubject(event.tenant, event.instance, event.type), data: encodeEnvelope(event), msgId: event.id })),
      {},
    );
    for (const [i, result] of run.results.entries()) {
      const { index, msg, event } = batch[i]!;
      routed(deps, event, result);
      fence.passed(event.instance, msg.streamSeq);
      outcomes[index] = ack();
    }
    if (run.refused !== undefined) {
      const tenant = batch[0]!.event.tenant;
      deps.metrics.atomicFallbacks.inc({ tenant });
      deps.logger.debug({ tenant, events: batch.length, stored: run.results.length, reason: run.refused }, 'atomic publish to EVENTS refused; publishing the rest one by one');
    }
    return batch.slice(run.results.length);
  }

  async function publishAll(batch: readonly Routable[], outcomes: Outcome[]): Promise<void> {
    await publishOneByOne(await publishAtomically(batch, outcomes), outcomes);
  }

  /** Publishes in one synchronous loop (one socket write, in order), then settles in order. */
  async function publishOneByOne(batch: readonly Routable[], outcomes: Outcome[]): Promise<void> {
    const sent = batch.map((r) => {
      const result = publish(deps, r.event);
      // Rejections are read below, in order; this only keeps an early one from being reported unhandled.
      result.catch(() => undefined);
      return { ...r, result };
    });
    const failed = new Set<string>();
    for (const { index, msg, event, result } of sent) {
      try {
        const stored = await result;
        if (failed.has(event.instance)) {
          // Stored after an earlier event of its instance failed: already in EVENTS, so a retry
          // would be a deduplicated no-op that only spends deliveries. Said, not hidden.
          deps.logger.warn({ tenant: event.tenant, instance: event.instance, seq: event.seq }, 'event stored ahead of an earlier one whose publish failed');
        }
        routed(deps, event, stored);
        fence.passed(event.instance, msg.streamSeq);
        outcomes[index] = ack();
      } catch (err) {
        failed.add(event.instance);
        deps.logger.warn({ err, tenant: event.tenant, instance: event.instance, seq: event.seq }, 'publishing to EVENTS failed; holding the instance until it is retried');
        // On its last delivery the consume loop dead-letters it instead, so it will not come back.
        if (msg.deliveryCount < deps.maxDeliver) fence.hold(event.instance, msg.streamSeq);
        else fence.passed(event.instance, msg.streamSeq);
        outcomes[index] = retry(err instanceof Error ? err.message : String(err));
      }
    }
  }

  return async (messages) => {
    const outcomes: Outcome[] = [];
    const ready: Routable[] = [];
    // Behind a held event that is in this batch too: decided once its retry is settled.
    const behindHeld: Routable[] = [];
    const inBatch = new Set(messages.map((m) => m.streamSeq));
    for (const [index, msg] of messages.entries()) {
      const checked = validate(deps, msg);
      if (!checked.ok) {
        outcomes[index] = checked.outcome;
        continue;
      }
      const event = checked.event;
      const held = fence.holds(event.instance, msg.streamSeq);
      if (held !== undefined && !inBatch.has(held)) {
        outcomes[index] = retry(`waiting for INGEST message ${held} of instance ${event.instance}, which is being retried`);
        holdIfReturning(event.instance, msg);
        continue;
      }
      // Gap checks run in stream order before any publish of the batch; all but an instance's
      // first (one EVENTS lookup) answer synchronously.
      const lookup = event.seq !== undefined ? deps.gaps?.check(event.tenant, event.instance, event.seq) : undefined;
      if (lookup !== undefined) await lookup;
      (held !== undefined ? behindHeld : ready).push({ index, msg, event });
    }
    await publishAll(ready, outcomes);
    if (behindHeld.length > 0) {
      // In stream order: one goes if every held message before it was routed above or goes now
      // (published ahead of it on the same connection). A retried run of an instance that came
      // back together thus goes in one pass, not one message per redelivery round.
      const going = new Set<number>();
      const now: Routable[] = [];
      for (const r of behindHeld) {
        if (fence.holds(r.event.instance, r.msg.streamSeq, going) === undefined) {
          going.add(r.msg.streamSeq);
          now.push(r);
        } else {
          outcomes[r.index] = retry(`an earlier event of instance ${r.event.instance} is being retried`);
          holdIfReturning(r.event.instance, r.msg);
        }
      }
      await publishAll(now, outcomes);
    }
    return outcomes;
  };
}

interface Routable {
  index: number;
  msg: InboundMessage;
  event: EventEnvelope;
}

/**
 * Per instance, the INGEST stream sequences of its messages being retried: a later message of the
 * instance is retried too while any earlier one is out, so no retry reorders the instance — not
 * even when the retried messages come back in a different order than they left (each one's
 * backoff follows its own delivery count).
 */
export function instanceFence() {
  const held = new Map<string, Set<number>>();
  return {
    /** The earliest retried sequence before `streamSeq` that it must wait for (none of `going`), if any. */
    holds(key: string, streamSeq: number, going?: ReadonlySet<number>): number | undefined {
      let earliest: number | undefined;
      for (const at of held.get(key) ?? []) {
        if (at < streamSeq && going?.has(at) !== true && (earliest === undefined || at < earliest)) earliest = at;
      }
      return earliest;
    },
    hold(key: string, streamSeq: number): void {
      const seqs = held.get(key);
      if (seqs === undefined) held.set(key, new Set([streamSeq]));
      else seqs.add(streamSeq);
    },
    /** Routed, or dead-lettered on its last delivery: it no longer holds the instance. */
    passed(key: string, streamSeq: number): void {
      const seqs = held.get(key);
      if (seqs === undefined) return;
      seqs.delete(streamSeq);
      if (seqs.size === 0) held.delete(key);
    },
  };
}

type Validated = { ok: true; event: EventEnvelope } | { ok: false; outcome: Outcome };

function validate(deps: RouteIngestDeps, msg: InboundMessage): Validated {
  if (msg.data.byteLength > deps.maxPayloadBytes) {
    return reject(deps, msg, 'PAYLOAD_TOO_LARGE', `payload of ${msg.data.byteLength} bytes exceeds ${deps.maxPayloadBytes}`);
  }
  const parsed = parseEnvelope(msg.data);
  if (!parsed.ok) return reject(deps, msg, parsed.code, parsed.message);
  const subject = parseSubject(msg.subject);
  const event = parsed.event;
  if (isSubjectParseError(subject) || subject.kind !== 'ingest') {
    return reject(deps, msg, 'INVALID_SUBJECT', `not an ingest subject: ${msg.subject}`);
  }
  if (event.tenant !== subject.tenant || event.tenant !== msg.tenant) {
    return reject(deps, msg, 'TENANT_MISMATCH', `event tenant ${event.tenant} published on ${msg.subject}`);
  }
  if (event.instance !== subject.instance || event.type !== subject.type) {
    return reject(deps, msg, 'SCHEMA_INVALID', `event ${event.instance}/${event.type} does not match subject ${msg.subject}`);
  }
  return { ok: true, event };
}

/**
 * Re-encoding normalises the event (unknown keys stripped, canonical field order); the event id
 * is the Nats-Msg-Id, so a redelivered INGEST message is deduplicated by EVENTS.
 */
function publish(deps: RouteIngestDeps, event: EventEnvelope): Promise<PublishResult> {
  return publishEvent(deps.js, eventsSubject(event.tenant, event.instance, event.type), encodeEnvelope(event), { msgId: event.id });
}

function routed(deps: RouteIngestDeps, event: EventEnvelope, result: PublishResult): void {
  if (event.seq !== undefined) deps.gaps?.routed(event.tenant, event.instance, event.seq);
  deps.metrics.routed.inc({ tenant: event.tenant, type: event.type, duplicate: String(result.duplicate) });
}

function reject(deps: RouteIngestDeps, msg: InboundMessage, reason: Parameters<typeof deadLetter>[0], error: string): Validated {
  deps.metrics.rejected.inc({ tenant: msg.tenant, reason });
  // Debug only: the consume loop logs every dead-letter at warn already, and a poison flood
  // must not double the log volume (and CPU) the other tenants share.
  deps.logger.debug({ tenant: msg.tenant, subject: msg.subject, reason, error }, 'ingest event rejected');
  return { ok: false, outcome: deadLetter(reason, error) };
}
