import { NatsError, type JetStreamManager } from 'nats';
import { isStreamNotFound } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
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
  /** Call before publishing `seq` of an instance to EVENTS; counts and logs a gap if one opened. */
  check(tenant: string, instance: string, seq: number): Promise<void>;
  /** Call once `seq` is stored in EVENTS. */
  routed(tenant: string, instance: string, seq: number): void;
}

/**
 * Detects gaps in an instance's `seq` as events reach EVENTS. Each replica keeps the last seq it
 * routed per instance; when that is unknown (first event since start) or disagrees with the new
 * event (another replica routed the ones between), it asks EVENTS for the instance's last
 * stored event. That answer is exact because the router's tenant durable has one message in
 * flight at a time (see app.ts), so nothing of the instance is being routed meanwhile. With one
 * replica the lookup happens once per instance; with several, at most once per hand-over.
 */
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
    async check(tenant, instance, seq) {
      const key = `${tenant}.${instance}`;
      const cached = last.get(key);
      if (cached !== undefined && seq <= cached + 1) return;
      const stored = await lastStored(tenant, instance);
      if (stored === undefined || seq <= stored + 1) return;
      const missing = seq - stored - 1;
      deps.gaps.inc({ tenant });
      deps.logger.warn(
        { tenant, instance, after: stored, seq, missing },
        'gap in instance sequence',
      );
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
