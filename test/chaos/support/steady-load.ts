import type { JetStreamClient } from 'nats';
import { messageEvent, publishUntilAcked } from '../../../bench/fleet/load.ts';

export interface SentEvent {
  id: string;
  tenant: string;
  /** When the publish was first attempted (Date.now()). */
  sentAt: number;
  /** The decrypted size of the media the message carries, when it carries any. */
  mediaSize?: number;
}

export interface SteadyLoadMedia {
  /** One event in this many carries media. */
  every: number;
  /** Descriptors handed out in turn, with their decrypted sizes. */
  blobs: readonly { descriptor: Record<string, unknown>; size: number }[];
}

export interface SteadyLoad {
  /** Events JetStream has acknowledged so far. */
  acked(): number;
  /** Stops offering new events and waits until every offered one is acknowledged. */
  stop(): Promise<SentEvent[]>;
}

/**
 * Known events at a steady rate, round-robin over the tenants, ids `<prefix>-<n>`; with `media`,
 * every `media.every`-th one carries a media descriptor. Each publish
 * is retried with its Nats-Msg-Id until JetStream acknowledges it (what a tenant does), so an
 * event counts as sent exactly when the zero-loss promise applies to it. Publishes are not
 * serialised: while NATS is down they pile up and all land when it is back.
 */
export function startSteadyLoad(
  js: JetStreamClient,
  tenants: readonly string[],
  options: { prefix: string; rate: number; media?: SteadyLoadMedia | undefined },
): SteadyLoad {
  const offered: SentEvent[] = [];
  const pending: Promise<boolean>[] = [];
  let acked = 0;
  const started = performance.now();
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * options.rate);
    while (offered.length < due) {
      const n = offered.length;
      const tenant = tenants[n % tenants.length]!;
      const id = `${options.prefix}-${n}`;
      const { media } = options;
      const blob = media !== undefined && n % media.every === media.every - 1 ? media.blobs[Math.floor(n / media.every) % media.blobs.length] : undefined;
      offered.push({ id, tenant, sentAt: Date.now(), ...(blob !== undefined ? { mediaSize: blob.size } : {}) });
      pending.push(
        publishUntilAcked(js, messageEvent(tenant, 'phone-1', id, n + 1, `chaos ${n}`, blob?.descriptor)).then(
          (ok) => (ok && acked++, ok),
        ),
      );
    }
  }, 10);
  return {
    acked: () => acked,
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
      return offered;
    },
  };
}
