import { setImmediate as nextTurn } from 'node:timers/promises';
import { isNonRetryable } from '@switchyard/runtime';
import { durableName, SYSTEM_TENANT, STREAMS, tenantFilterSubject, type StreamKind } from '@switchyard/schema';
import { type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from 'nats';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DurableConsumerOptions } from './consumers.ts';
import { consumerMetrics } from './metrics.ts';
import { retry, type InboundMessage, type Outcome } from './outcome.ts';
import { headersToRecord } from './publish.ts';
import { pullAttachment } from './pull-attachment.ts';
import { createSettler, errorText } from './settle.ts';
import type { PartitionOwnership } from './ownership.ts';
import { followTenants, partitionGate, type TenantBucketOptions } from './tenant-registry.ts';

/**
 * Gets the messages of one batch, in stream order, and answers one outcome per message (same
 * index). Resolving means every `ack` outcome is durable (e.g. the batch's transaction committed):
 * only then does the loop ack. A throw counts as `retry` for every message (or dead-letters them
 * all when the error is non-retryable).
 */
export type BatchHandler = (messages: readonly InboundMessage[]) => Promise<Outcome[]>;

/**
 * A batch handler in two stages, so the loop can prepare batch n+1 (parse, validate, build the
 * statements) while batch n is still being committed: CPU work overlaps the write's round trips.
 * `commit` runs one batch at a time, in stream order, and only after the previous batch was
 * settled. A prepared batch is dropped when a message before it was retried (its messages are
 * prepared again, after the retried ones) or nak'd when the consumer stops, so `prepare` must
 * have no side effects. A throw from either stage is treated like a `BatchHandler` throw.
 */
export interface StagedBatchHandler<P> {
  prepare(messages: readonly InboundMessage[]): P | Promise<P>;
  commit(prepared: P, messages: readonly InboundMessage[]): Promise<Outcome[]>;
}

export interface StartBatchConsumerOptions<P = unknown> {
  js: JetStreamClient;
  jsm?: JetStreamManager;
  ensure?: Omit<DurableConsumerOptions, 'stream' | 'durable'>;
  stream: string;
  durable: string;
  tenant: string;
  service: string;
  /** A plain handler is called one batch at a time; a staged one is pipelined (see StagedBatchHandler). */
  handler: BatchHandler | StagedBatchHandler<P>;
  logger: Logger;
  registry: Registry;
  /** At most this many messages per batch. Default 500. */
  batchSize?: number;
  /**
   * Once a batch has its first message, wait at most this long for more. Default 20 ms. 0: no
   * wait — the batch is what has arrived, including the rest of the read its first message came in.
   */
  maxWaitMs?: number;
  /** Deliveries before a retry becomes a MAX_DELIVERIES dead-letter. Default 5. */
  maxDeliver?: number;
  retryBackoffMs?: number[];
  /** Tests only: where dead-letters go instead of `v1.dlq.<tenant>`. */
  dlqSubject?: string;
  /** Only for a durable this replica alone reads: see PullAttachmentOptions.soleReader. */
  soleReader?: boolean;
  /** Tests: see PullAttachmentOptions.pullExpiresMs. */
  pullExpiresMs?: number;
}

export interface RunningBatchConsumer {
  readonly stream: string;
  readonly durable: string;
  state(): 'running' | 'draining' | 'stopped';
  /** Stops pulling, waits for the batch in flight to be settled, then resolves. */
  stop(): Promise<void>;
}

const REATTACH_MIN_MS = 250;
const REATTACH_MAX_MS = 10_000;
/** How long past its retry delay a retried message may take to come back before the gate opens anyway. */
const RETRY_GRACE_MS = 1_000;

/** Messages the loop holds: taken from the iterator, not settled yet. */
interface Taken<P> {
  msgs: JsMsg[];
  inbound: InboundMessage[];
  /** The staged handler's `prepare`, started as soon as the batch was taken. */
  prepared: Promise<P> | undefined;
  /** Tells the server we are still on them (a history batch may outlast ack_wait). */
  keepAlive: NodeJS.Timeout;
}

/**
 * A message as handlers see it, with its headers decoded only if someone reads them (the DLQ
 * hand-off does; persistence does not): per message, that is most of the conversion's cost.
 */
class LazyInbound implements InboundMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly deliveryCount: number;
  readonly streamSeq: number;
  readonly tenant: string;
  readonly #msg: JsMsg;
  #headers: Record<string, string[]> | undefined;

  constructor(msg: JsMsg, tenant: string) {
    this.#msg = msg;
    this.subject = msg.subject;
    this.data = msg.data;
    this.deliveryCount = msg.info.deliveryCount;
    this.streamSeq = msg.seq;
    this.tenant = tenant;
  }

  get headers(): Record<string, string[]> {
    return (this.#headers ??= headersToRecord(this.#msg.headers));
  }

  get storedAtMs(): number {
    return Math.floor(this.#msg.info.timestampNanos / 1e6);
  }

  get eventId(): string | undefined {
    const id = this.#msg.headers?.get('Nats-Msg-Id');
    return id !== undefined && id !== '' ? id : undefined;
  }
}

/** A batch the handler has answered for, not settled yet. */
interface Handled {
  outcomes: Outcome[];
  nonRetryableThrow: boolean;
  /** Ends the batch's duration metric (handling and settling). */
  stopTimer: (labels?: Record<string, string>) => number;
}

interface Retried {
  /** Stream sequences nak'd for redelivery. */
  seqs: number[];
  /** The longest of their delays. */
  waitMs: number;
}

function isStaged<P>(handler: BatchHandler | StagedBatchHandler<P>): handler is StagedBatchHandler<P> {
  return typeof handler === 'object';
}

/**
 * Like `startConsumer`, but the handler sees batches: one batch at a time per durable, so a
 * tenant's events keep their stream order, and a handler can write a whole batch in one
 * transaction with bulk statements. Settlement per message follows the same rules as
 * `startConsumer` (ack after the handler resolved; retry with backoff until `maxDeliver`, then
 * MAX_DELIVERIES; dead-letter only once the DLQ record is stored); a batch's acks go out together
 * in one socket write. When ANY message of a batch is nak'd for a retry, the loop hands out no
 * later message until the retried ones were redelivered (at least their backoff; at most the
 * longest delay plus a grace, for a redelivery another replica got): later messages never
 * overtake a retried one, and the ones held meanwhile are kept alive, not nak'd.
 */
export function startBatchConsumer<P = unknown>(options: StartBatchConsumerOptions<P>): RunningBatchConsumer {
  const { js, jsm, ensure, stream, durable, tenant, service, handler, registry } = options;
  const batchSize = Math.max(1, options.batchSize ?? 500);
  const maxWaitMs = Math.max(0, options.maxWaitMs ?? 20);
  const maxDeliver = options.maxDeliver ?? 5;
  const logger = options.logger.child({ stream, durable, tenant });
  const metrics = consumerMetrics(registry);
  const staged = isStaged(handler) ? handler : undefined;
  const stopping = new AbortController();
  let state: 'running' | 'draining' | 'stopped' = 'running';
  let messages: ConsumerMessages | undefined;

  const settler = createSettler({
    js,
    stream,
    durable,
    tenant,
    service,
    maxDeliver,
    retryBackoffMs: options.retryBackoffMs,
    ...(options.dlqSubject !== undefined ? { dlqSubject: options.dlqSubject } : {}),
    logger,
    metrics,
  });
  const attachment = pullAttachment({ js, jsm, ensure, stream, durable, maxMessages: batchSize, logger, signal: stopping.signal, soleReader: options.soleReader, longestRedeliveryDelayMs: settler.longestBackoffMs, pullExpiresMs: options.pullExpiresMs });
  const backoffFor = settler.backoffFor;

  /**
   * Between the iterator and the handler: messages taken from the client and not handed over
   * yet, in stream order. After a retry, a gate holds every later message back until the retried
   * ones were redelivered (or a deadline passed: another replica may have got them), so nothing
   * overtakes them, without handing anything back (which would spend deliveries).
   */
  function intake(iter: ConsumerMessages, arriving: AsyncIterable<JsMsg>) {
    let ended = false;
    let failure: Error | undefined;
    const held: JsMsg[] = [];
    let gate: { seqs: Set<number>; until: number } | undefined;
    // The one waiting `next()` (the loop asks for one batch at a time), woken when ready() holds.
    let waiter: { ready: () => boolean; wake: () => void } | undefined;
    const keepAlive = setInterval(() => held.forEach((m) => m.working()), Math.max(attachment.ackWaitMs() / 2, 100));

    function hold(msg: JsMsg): void {
      gate?.seqs.delete(msg.seq);
      const last = held.at(-1);
      held.push(msg);
      // Only a redelivery arrives out of order.
      if (last !== undefined && last.seq > msg.seq) held.sort((x, y) => x.seq - y.seq);
      if (waiter?.ready() === true) waiter.wake();
    }

    // Everything the client receives goes straight into `held`: no promise race per message.
    void (async () => {
      try {
        for await (const msg of arriving) hold(msg);
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
      } finally {
        ended = true;
        waiter?.wake();
      }
    })();

    /**
     * Resolves 'ready' once ready() holds (or the iterator ended), else 'timed-out' at `deadline`,
     * or 'cut'. A deadline already reached times out after one turn of the event loop, not on a
     * timer (a 0 ms timer fires after 1 ms at the soonest, which was a millisecond added to every
     * batch of a consumer with `maxWaitMs: 0`): what the client parsed from the same socket read
     * still reaches `held` meanwhile.
     */
    async function until(ready: () => boolean, deadline: number | undefined, cut: Promise<void> | undefined): Promise<'ready' | 'timed-out' | 'cut'> {
      if (ended || ready()) return 'ready';
      let cancel: (() => void) | undefined;
      const racers: Promise<'ready' | 'timed-out' | 'cut'>[] = [new Promise((resolve) => (waiter = { ready, wake: () => resolve('ready') }))];
      if (cut !== undefined) racers.push(cut.then((): 'cut' => 'cut'));
      if (deadline !== undefined) {
        racers.push(new Promise((resolve) => {
          const ms = deadline - Date.now();
          if (ms > 0) {
            const timer = setTimeout(() => resolve('timed-out'), ms);
            cancel = () => clearTimeout(timer);
          } else {
            const turn = setImmediate(() => resolve('timed-out'));
            cancel = () => clearImmediate(turn);
          }
        }));
      }
      try {
        return await Promise.race(racers);
      } finally {
        waiter = undefined;
        cancel?.();
      }
    }

    return {
      /**
       * Up to batchSize messages, lowest stream sequence first: the first may take as long as it
       * takes, the rest at most maxWaitMs more. Resolving `cut` answers at once with nothing;
       * null once the iterator ended and nothing is held.
       */
      async next(cut?: Promise<void>): Promise<JsMsg[] | null> {
        if (gate !== undefined) {
          const open = gate;
          if ((await until(() => open.seqs.size === 0, open.until, cut)) === 'cut') return [];
          if (open.seqs.size > 0 && ended) {
            // The iterator ended (consumer trouble, or stopping) before the retried messages came
            // back: handing out the later ones now would let them overtake. They go back to the
            // server instead, for the next attach (which gathers what is pending in stream order).
            for (const msg of held.splice(0)) msg.nak();
            gate = undefined;
            if (failure !== undefined) throw failure;
            return null;
          }
          if (open.seqs.size > 0) logger.warn({ seqs: [...open.seqs] }, 'retried messages did not come back in time; going on without them');
          gate = undefined;
        }
        if ((await until(() => held.length > 0, undefined, cut)) === 'cut') return [];
        if (held.length === 0) {
          if (failure !== undefined) throw failure;
          return null;
        }
        if ((await until(() => held.length >= batchSize, Date.now() + maxWaitMs, cut)) === 'cut') return [];
        return held.splice(0, batchSize);
      },
      /** Takes back messages handed out but not processed (a batch prepared ahead of a retry). */
      giveBack(msgs: readonly JsMsg[]): void {
        for (const msg of msgs) hold(msg);
      },
      /** After a retry: nothing is handed out until `seqs` are redelivered, or `waitMs` and a grace passed. */
      holdBackFor(seqs: readonly number[], waitMs: number): void {
        gate = { seqs: new Set(seqs), until: Date.now() + waitMs + Math.max(RETRY_GRACE_MS, waitMs) };
        for (const msg of held) gate.seqs.delete(msg.seq);
      },
      /** Stops keeping held messages alive; closes the iterator if the loop left it early (an error). */
      close(): void {
        clearInterval(keepAlive);
        if (!ended) iter.close().catch((err: unknown) => logger.debug({ err }, 'closing consumer iterator failed'));
      },
    };
  }

  function take(msgs: JsMsg[]): Taken<P> {
    const inbound = msgs.map(toInbound);
    const prepared = staged === undefined ? undefined : Promise.resolve().then(() => staged.prepare(inbound));
    // A batch given back before its commit never awaits this; its failure is not worth a crash.
    prepared?.catch(() => undefined);
    const keepAlive = setInterval(() => msgs.forEach((m) => m.working()), Math.max(attachment.ackWaitMs() / 2, 100));
    return { msgs, inbound, prepared, keepAlive };
  }

  /** Takes batches until the iterator ends. */
  async function consume(iter: ConsumerMessages, arriving: AsyncIterable<JsMsg>): Promise<void> {
    const source = intake(iter, arriving);
    const takeNext = async (cut?: Promise<void>): Promise<Taken<P> | null> => {
      const msgs = await source.next(cut);
      return msgs === null ? null : take(msgs);
    };
    try {
      let current = await takeNext();
      // The current batch's handler when it was started early (see below), else undefined.
      let started: Promise<Handled> | undefined;
      while (current !== null) {
        if (state !== 'running' && started === undefined) {
          // Hand them straight back so another replica can take them now.
          clearInterval(current.keepAlive);
          for (const msg of current.msgs) msg.nak();
          current = await takeNext();
          continue;
        }
        const cut = deferred();
        // Pipelined: collect (and prepare) the next batch while this one commits.
        const following = staged !== undefined ? takeNext(cut.promise) : undefined;
        let ahead: Taken<P> | null | undefined;
        following?.then(
          (taken) => (ahead = taken),
          () => undefined,
        );
        const handled = await (started ?? handle(current));
        started = undefined;
        if (ahead != null && state === 'running' && handled.outcomes.every((o) => o.kind === 'ack')) {
          // Every message of this batch is done with (acks cannot fail into a retry) and the next
          // batch is prepared: start its commit first, so it is on its way to the database while
          // this batch's acks are sent, instead of after them.
          started = handle(ahead);
          started.catch(() => undefined);
          await nextTurn();
          await settle(current, handled);
          current = ahead;
          continue;
        }
        const retried = await settle(current, handled);
        if (retried.seqs.length > 0) {
          // Nothing after a retried message may be processed before it comes back.
          cut.resolve();
          const next = await following;
          if (next !== undefined && next !== null) {
            clearInterval(next.keepAlive);
            source.giveBack(next.msgs);
          }
          source.holdBackFor(retried.seqs, retried.waitMs);
          current = await takeNext();
          continue;
        }
        current = await (following ?? takeNext());
      }
    } finally {
      source.close();
    }
  }

  async function run(): Promise<void> {
    let retryInMs = REATTACH_MIN_MS;
    while (state === 'running') {
      try {
        const iter = await attachment.attach();
        messages = iter;
        if (state !== 'running') {
          await attachment.discard(iter);
          break;
        }
        retryInMs = REATTACH_MIN_MS;
        attachment.watchStatus(iter).catch((err: unknown) => logger.warn({ err }, 'consumer status watch ended'));
        await consume(iter, attachment.arriving(iter));
        const closedWith = await iter.closed();
        if (closedWith instanceof Error && state === 'running') logger.warn({ err: closedWith }, 'consumer stopped; getting it again');
      } catch (err) {
        if (state !== 'running') break;
        logger.error({ err, retryInMs }, 'could not consume; retrying');
      }
      if (state === 'running') {
        await attachment.pause(retryInMs);
        retryInMs = Math.min(retryInMs * 2, REATTACH_MAX_MS);
      }
    }
  }

  function toInbound(msg: JsMsg): InboundMessage {
    return new LazyInbound(msg, tenant);
  }

  /** Runs the handler over one batch: one outcome per message (a throw becomes the same outcome for all). */
  async function handle(taken: Taken<P>): Promise<Handled> {
    const { msgs, inbound } = taken;
    const stopTimer = metrics.duration.startTimer({ service, tenant });
    let outcomes: Outcome[];
    let nonRetryableThrow = false;
    try {
      outcomes = staged === undefined ? await (handler as BatchHandler)(inbound) : await staged.commit(await taken.prepared!, inbound);
      if (outcomes.length !== msgs.length) throw new Error(`batch handler answered ${outcomes.length} outcomes for ${msgs.length} messages`);
    } catch (err) {
      nonRetryableThrow = isNonRetryable(err);
      logger.warn({ err, size: msgs.length, nonRetryable: nonRetryableThrow }, 'batch handler threw');
      const outcome: Outcome = nonRetryableThrow ? { kind: 'dead-letter', reason: 'HANDLER_ERROR', error: errorText(err) } : retry(errorText(err));
      outcomes = msgs.map(() => outcome);
    } finally {
      clearInterval(taken.keepAlive);
    }
    return { outcomes, nonRetryableThrow, stopTimer };
  }

  /** Settles a handled batch; answers what was nak'd for a retry. */
  async function settle(taken: Taken<P>, handled: Handled): Promise<Retried> {
    const retried = await settleBatch(taken, handled.outcomes, handled.nonRetryableThrow);
    handled.stopTimer({});
    return retried;
  }

  /**
   * Settles every message of a batch. Acks and naks are started in one synchronous pass, so the
   * client sends them in one write instead of one per message; DLQ hand-offs are awaited.
   * Answers the messages nak'd for redelivery and the longest of their delays.
   */
  async function settleBatch(taken: Taken<P>, outcomes: readonly Outcome[], nonRetryableThrow: boolean): Promise<Retried> {
    let waitMs = 0;
    const seqs: number[] = [];
    const labels = new Map<string, number>();
    await Promise.all(
      taken.msgs.map(async (msg, i) => {
        const inbound = taken.inbound[i]!;
        const outcome = outcomes[i] ?? retry('no outcome');
        try {
          const label = await settler.settle(msg, inbound, outcome, nonRetryableThrow);
          labels.set(label, (labels.get(label) ?? 0) + 1);
          if (label === 'retry' || label === 'dlq_failed') {
            const delay = (outcome.kind === 'retry' && label === 'retry' ? outcome.delayMs : undefined) ?? backoffFor(inbound.deliveryCount);
            waitMs = Math.max(waitMs, delay);
            seqs.push(msg.seq);
          }
        } catch (err) {
          logger.error({ err, seq: msg.seq }, 'settling a message failed; it will be redelivered');
        }
      }),
    );
    for (const [outcome, n] of labels) metrics.consumed.inc({ service, tenant, outcome }, n);
    return { seqs, waitMs };
  }

  const loop = run();
  let stopped: Promise<void> | undefined;
  return {
    stream,
    durable,
    state: () => state,
    stop() {
      stopped ??= (async () => {
        state = 'draining';
        stopping.abort();
        await messages?.close().catch((err: unknown) => logger.debug({ err }, 'closing consumer iterator failed'));
        // The loop finishes the batch in flight (settling it) before it sees the closed iterator.
        await loop;
        state = 'stopped';
      })();
      return stopped;
    },
  };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export interface TenantBatchConsumerOptions<P = unknown> extends TenantBucketOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  service: string;
  kind: StreamKind;
  handlerFor(tenant: string): BatchHandler | StagedBatchHandler<P>;
  logger: Logger;
  registry: Registry;
  batchSize?: number;
  maxWaitMs?: number;
  maxDeliver?: number;
  retryBackoffMs?: number[];
  ackWaitMs?: number;
  /**
   * Must be at least batchSize, or batches never fill; a pipelined (staged) handler holds two
   * batches, and the client buffers the next. Default: max(1000, 3 × batchSize).
   */
  maxAckPending?: number;
  /**
   * Read a tenant only while this replica owns its partition (order across replicas with many
   * messages in flight): started after the takeover fence, stopped before the lease goes.
   */
  ownership?: PartitionOwnership;
  /** The durable's filter list (several subjects); unset: the tenant's whole `kind` prefix. */
  filterSubjectsFor?(tenant: string): string[];
}

export interface TenantBatchConsumers {
  tenants(): string[];
  stop(): Promise<void>;
}

/**
 * One batch consumer per announced tenant, the batch counterpart of `startTenantConsumers`:
 * started when a tenant is announced, stopped and its durable deleted when it is retracted.
 */
export async function startTenantBatchConsumers<P = unknown>(options: TenantBatchConsumerOptions<P>): Promise<TenantBatchConsumers> {
  const { js, jsm, service, kind, logger, registry } = options;
  const stream = STREAMS[kind];
  const batchSize = options.batchSize ?? 500;
  const maxAckPending = options.maxAckPending ?? Math.max(1000, batchSize * 3);
  return followTenants({
    js,
    jsm,
    stream,
    logger,
    ...(options.bucket !== undefined ? { bucket: options.bucket } : {}),
    skip: [SYSTEM_TENANT],
    ...(options.ownership !== undefined ? { gate: partitionGate(options.ownership, { jsm, stream, logger }) } : {}),
    durableFor: (tenant) => durableName(service, tenant),
    start(tenant) {
      const filterSubjects = options.filterSubjectsFor?.(tenant);
      return startBatchConsumer<P>({
        js,
        jsm,
        ensure: {
          filterSubject: tenantFilterSubject(kind, tenant),
          ...(filterSubjects !== undefined ? { filterSubjects } : {}),
          maxAckPending,
          ...(options.ackWaitMs !== undefined ? { ackWaitMs: options.ackWaitMs } : {}),
        },
        stream,
        durable: durableName(service, tenant),
        tenant,
        service,
        handler: options.handlerFor(tenant),
        logger,
        registry,
        batchSize,
        ...(options.maxWaitMs !== undefined ? { maxWaitMs: options.maxWaitMs } : {}),
        ...(options.maxDeliver !== undefined ? { maxDeliver: options.maxDeliver } : {}),
        ...(options.retryBackoffMs !== undefined ? { retryBackoffMs: options.retryBackoffMs } : {}),
        // Owned: nobody else reads the durable meanwhile.
        soleReader: options.ownership !== undefined,
      });
    },
  });
}
