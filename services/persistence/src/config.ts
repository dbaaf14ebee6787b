import { z } from 'zod';
import { envDuration, envDurationList, envInt, loadConfig } from '@switchyard/runtime';
import { serviceEnv } from '@switchyard/service';

export const persistenceConfigSchema = z
  .object({
    ...serviceEnv(8083),
    /**
     * Deliveries of one EVENTS message before it is dead-lettered. Covers a Postgres outage and a
     * tenant whose schema is still being provisioned, so keep it × the backoff longer than either.
     */
    PERSISTENCE_MAX_DELIVER: envInt({ min: 1, max: 1000, default: 20 }).describe(
      'Deliveries before an EVENTS message is dead-lettered (Postgres down, tenant schema missing)',
    ),
    /** nak delays by delivery; the last one repeats. */
    PERSISTENCE_RETRY_BACKOFF: envDurationList('1s,5s,15s,60s').describe(
      'Delay before each redelivery after a retryable failure, e.g. 1s,5s,15s,60s (the last repeats)',
    ),
    /**
     * A replica that dies (SIGKILL, OOM) leaves its batch unacked: its events are stored by another
     * replica, or the restarted one, only after this. A live replica keeps a long commit alive
     * (`working()` every half of it), so shorter costs nothing but those heartbeats. The durables
     * are shared by the replicas: no takeover fence waits on it.
     */
    PERSISTENCE_ACK_WAIT: envDuration('10s').describe(
      "ack_wait of the persistence durables: how long a dead replica's unstored batch waits before another replica stores it",
    ),
    /** Bigger batches amortise the commit; each is one transaction (kept alive past ack_wait while it runs). */
    PERSISTENCE_BATCH_SIZE: envInt({ min: 1, max: 5000, default: 500 }).describe(
      'EVENTS messages stored per transaction (one batch per tenant at a time)',
    ),
    /**
     * How long a batch that has its first message waits for more: the latency cost of batching.
     * Short by default: the next batch is prepared while the current one commits, so under load
     * batches fill on their own during the commit, and an idle tenant's event is not kept waiting.
     */
    PERSISTENCE_BATCH_WAIT: envDuration('2ms').describe('Once a batch has a message, wait at most this long for more'),
    /** Retention drops whole monthly partitions, so running it hourly is cheap. */
    PERSISTENCE_RETENTION_INTERVAL: envDuration('1h').describe(
      "How often the retention job drops each tenant's expired event partitions and creates the months ahead",
    ),
    PERSISTENCE_PARTITIONS_AHEAD: envInt({ min: 0, max: 24, default: 2 }).describe(
      'Monthly events partitions created ahead of the current month',
    ),
    PERSISTENCE_REPLAY_LIMIT: envInt({ min: 1, max: 1_000_000, default: 1000 }).describe(
      'Safety limit of one replay when the request sets none: more matching events and it is refused',
    ),
    PERSISTENCE_REPLAY_MAX_LIMIT: envInt({ min: 1, max: 10_000_000, default: 100_000 }).describe(
      'The highest safety limit a replay request may ask for',
    ),
    /** Replays up to this size answer with the counts; larger ones run as a job to poll. */
    PERSISTENCE_REPLAY_INLINE_MAX: envInt({ min: 0, max: 100_000, default: 1000 }).describe(
      'Replays of at most this many events finish within the request; larger ones run as a job (GET /api/replays/:id)',
    ),
  })
  .superRefine((config, ctx) => {
    if (config.PERSISTENCE_ACK_WAIT < 1_000) {
      ctx.addIssue({ code: 'custom', path: ['PERSISTENCE_ACK_WAIT'], message: 'at least 1s, so heartbeats can keep a batch that is being stored' });
    }
    if (config.PERSISTENCE_REPLAY_LIMIT > config.PERSISTENCE_REPLAY_MAX_LIMIT) {
      ctx.addIssue({ code: 'custom', path: ['PERSISTENCE_REPLAY_LIMIT'], message: 'must not exceed PERSISTENCE_REPLAY_MAX_LIMIT' });
    }
  });
export type PersistenceConfig = z.infer<typeof persistenceConfigSchema>;

export function loadPersistenceConfig(env: NodeJS.ProcessEnv = process.env): PersistenceConfig {
  return loadConfig(persistenceConfigSchema, env, { service: 'persistence' });
}
