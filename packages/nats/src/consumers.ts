import { AckPolicy, DeliverPolicy, nanos, ReplayPolicy, type ConsumerConfig, type ConsumerInfo, type JetStreamManager } from 'nats';
import { isConsumerNotFound } from './errors.ts';

export interface DurableConsumerOptions {
  stream: string;
  durable: string;
  filterSubject: string;
  /**
   * Several filters instead of `filterSubject` (NATS ≥ 2.10), e.g. every realtime event category
   * of a tenant but not its history. Unset: `filterSubject` alone, as before.
   */
  filterSubjects?: string[];
  /**
   * Server-side redelivery limit. Default -1 (unlimited), and keep it so: when the server gives
   * up it only emits an advisory, leaving the message unprocessed. The consume loop enforces
   * its own `maxDeliver` by dead-lettering, which is the only give-up path that loses nothing.
   */
  maxDeliver?: number;
  /** How long a delivered message may stay unacked before redelivery. Default 30s. */
  ackWaitMs?: number;
  /** Unacked messages in flight across all replicas of the service. Default 1000. */
  maxAckPending?: number;
}

/** Whether a server of this version (`nc.info?.version`) takes filter lists (`filter_subjects`): 2.10 and later. */
export function filterListsSupported(serverVersion: string | undefined): boolean {
  const [major = 0, minor = 0] = (serverVersion ?? '').split('.').map((n) => Number.parseInt(n, 10));
  return major > 2 || (major === 2 && minor >= 10);
}

export const CONSUMER_DEFAULTS = { maxDeliver: -1, ackWaitMs: 30_000, maxAckPending: 1000 } as const;

export function durableConsumerConfig(options: DurableConsumerOptions): Partial<ConsumerConfig> {
  return {
    durable_name: options.durable,
    ...(options.filterSubjects !== undefined && options.filterSubjects.length > 0
      ? { filter_subjects: options.filterSubjects }
      : { filter_subject: options.filterSubject }),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    max_deliver: options.maxDeliver ?? CONSUMER_DEFAULTS.maxDeliver,
    ack_wait: nanos(options.ackWaitMs ?? CONSUMER_DEFAULTS.ackWaitMs),
    max_ack_pending: options.maxAckPending ?? CONSUMER_DEFAULTS.maxAckPending,
  };
}

/** Creates the durable pull consumer, or updates the mutable fields that drifted. Idempotent. */
export async function ensureDurableConsumer(jsm: JetStreamManager, options: DurableConsumerOptions): Promise<ConsumerInfo> {
  const wanted = durableConsumerConfig(options);
  let current: ConsumerInfo;
  try {
    current = await jsm.consumers.info(options.stream, options.durable);
  } catch (err) {
    if (!isConsumerNotFound(err)) throw err;
    return jsm.consumers.add(options.stream, wanted);
  }
  const changed = (Object.keys(wanted) as (keyof ConsumerConfig)[]).some(
    (key) => JSON.stringify(current.config[key]) !== JSON.stringify(wanted[key]),
  );
  if (!changed) return current;
  // Policies are fixed at creation; only the tunables can be updated in place.
  const { ack_policy: _a, deliver_policy: _d, replay_policy: _r, durable_name: _n, ...update } = wanted;
  // The client merges the update into the current config, and the server refuses a consumer
  // with both a filter and a filter list: clear whichever form is being replaced.
  if (wanted.filter_subjects !== undefined) update.filter_subject = '';
  else if ((current.config.filter_subjects?.length ?? 0) > 0) update.filter_subjects = [];
  return jsm.consumers.update(options.stream, options.durable, update);
}

/** Deletes a durable; a durable that is already gone counts as deleted. */
export async function deleteDurableConsumer(jsm: JetStreamManager, stream: string, durable: string): Promise<void> {
  try {
    await jsm.consumers.delete(stream, durable);
  } catch (err) {
    if (!isConsumerNotFound(err)) throw err;
  }
}
