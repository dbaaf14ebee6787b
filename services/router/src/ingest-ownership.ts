import { filterListsSupported, type Unclaimed } from '@switchyard/nats';
import { EVENT_TYPES, isValidTenantId, SYSTEM_TENANT } from '@switchyard/schema';

/**
 * How the router divides INGEST between its durables (docs/architecture.md, "Router"):
 *   router_<tenant>          realtime: every event category but history, read only by the replica
 *                            owning the tenant's partition, many messages in flight
 *   router_history_<tenant>  history.* batches (history sync, bulk imports), beside realtime
 *   router__system           catch-all: whatever neither reads, dead-lettered at once
 * The three sets never overlap, so no message is routed twice or routed and dead-lettered.
 */
export const HISTORY_CATEGORY = 'history';

/** First tokens of the event types (`message`, `chat`, …), from the schema package's registry. */
const CATEGORIES: ReadonlySet<string> = new Set(
  EVENT_TYPES.map((type) => type.split('.')[0] ?? type),
);
const REALTIME_CATEGORIES = [...CATEGORIES].filter((c) => c !== HISTORY_CATEGORY).sort();

/** Filters of a tenant's realtime durable: one per category, so history never queues in front. */
export function realtimeFilters(tenant: string): string[] {
  return REALTIME_CATEGORIES.map((category) => `v1.ingest.${tenant}.*.${category}.>`);
}

export function historyFilter(tenant: string): string {
  return `v1.ingest.${tenant}.*.${HISTORY_CATEGORY}.>`;
}

/**
 * `split`: the layout above. `single`: one durable per tenant reading `v1.ingest.<tenant>.>`,
 * history inline — for NATS servers older than 2.10, which have no filter lists.
 */
export type IngestLayout = 'split' | 'single';

/** The layout a server of this version supports. */
export function ingestLayoutFor(serverVersion: string | undefined): IngestLayout {
  return filterListsSupported(serverVersion) ? 'split' : 'single';
}

/** What the catch-all does with a subject: nothing (a tenant durable reads it) or dead-letter. */
export function classifyIngestSubject(
  subject: string,
  layout: IngestLayout = 'split',
): Unclaimed | undefined {
  const [version, kind, tenant, , category, ...rest] = subject.split('.');
  if (version !== 'v1' || kind !== 'ingest' || tenant === undefined || !isValidTenantId(tenant)) {
    return {
      tenant: SYSTEM_TENANT,
      reason: 'INVALID_SUBJECT',
      error: `no valid tenant id in ${subject}`,
    };
  }
  // `v1.ingest.<tenant>.>` needs one token after the tenant; the router then judges the rest.
  if (layout === 'single')
    return subject.split('.').length >= 4
      ? undefined
      : { tenant, reason: 'INVALID_SUBJECT', error: `no instance and type in ${subject}` };
  if (category === undefined)
    return { tenant, reason: 'INVALID_SUBJECT', error: `no instance and type in ${subject}` };
  // Category known and at least one more token: the realtime or the history filter matches it.
  if (CATEGORIES.has(category) && rest.length > 0) return undefined;
  return { tenant, reason: 'UNKNOWN_TYPE', error: `no event type matches ${subject}` };
}
