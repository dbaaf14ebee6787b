import { NatsError, type JetStreamManager } from 'nats';
import { isStreamNotFound } from '@switchyard/nats';
import { LogThrottle, type Logger } from '@switchyard/runtime';
import { STREAMS } from '@switchyard/schema';
import type { Counter } from 'prom-client';

export interface SequenceGapsDeps {
  jsm: JetStreamManager;
  logger: Logger;
  gaps: Counter<'tenant'>;
  /** Tests only: a private EVENTS stream. */
  eventsStream?: string;
}

export interface SequenceGapTracker {
  /**
   * Call before publishing `seq` of an instance to EVENTS, in stream order; counts and logs a gap
   * if one opened. Synchronous (undefined) unless it had to ask EVENTS, so a batch's publishes
   * are not split across event-loop turns.
   */
  check(tenant: string, instance: string, seq: number): Promise<void> | undefined;
  /** Call once `seq` is stored in EVENTS. */
  routed(tenant: string, instance: string, seq: number): void;
}

/**
 * Detects gaps in an instance's `seq` as events reach EVENTS. Make one per tenant and ownership
 * period (app.ts makes one each time this replica starts the tenant's realtime consumer): only
 * the owner of a tenant's partition routes its realtime events, so within a period the seq last
 * seen here is the last one routed. For an instance's first event in a period it asks EVENTS for
 * the instance's last stored event, which is exact because the takeover fence lets nothing of
 * the previous owner stay in flight. `check` records the seq at once, so the events of one batch,
 * published together, are compared with each other rather than with what EVENTS holds yet.
 */
const gapLogs = new LogThrottle();

export function sequenceGapTracker(deps: SequenceGapsDeps): SequenceGapTracker {
  const last = new Map<string, number>();
  const stream = deps.eventsStream ?? STREAMS.events;

  async function lastStored(tenant: string, instance: string): Promise<number | undefined> {
    try {
      const msg = await deps.jsm.streams.getMessage(stream, {
        last_by_subj: `v1.events.${tenant}.${instance}.>`,
      });
      const seq: unknown = (JSON.parse(new TextDecoder().decode(msg.data)) as { seq?: unknown })
        .seq;
      return typeof seq === 'number' ? seq : undefined;
    } catch (err) {
      // No stored event for the instance yet (10037) or no stream: nothing to compare with.
      if (isStreamNotFound(err) || isNoMessage(err)) return undefined;
      throw err;
    }
  }

  return {
    check(tenant, instance, seq) {
      const key = `${tenant}.${instance}`;
      const compare = (before: number | undefined): void => {
        if (before === undefined || seq > before) last.set(key, seq);
        if (before === undefined || seq <= before + 1) return;
        deps.gaps.inc({ tenant });
        // The first gap of an instance is logged as it is; a publisher that skips numbers all the
        // time gets one line and a count per window (the metric counts every gap).
        gapLogs.warn(deps.logger, key, { tenant, instance, after: before, seq, missing: seq - before - 1 }, 'gap in instance sequence', 'more gaps in the same instance sequence');
      };
      const cached = last.get(key);
      if (cached !== undefined) {
        compare(cached);
        return undefined;
      }
      return lastStored(tenant, instance).then(compare);
    },
    routed(tenant, instance, seq) {
      const key = `${tenant}.${instance}`;
      if ((last.get(key) ?? -1) < seq) last.set(key, seq);
    },
  };
}

const JS_NO_MESSAGE_FOUND = 10037;

function isNoMessage(err: unknown): boolean {
  return err instanceof NatsError && err.api_error?.err_code === JS_NO_MESSAGE_FOUND;
}
