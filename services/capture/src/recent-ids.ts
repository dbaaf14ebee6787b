/**
 * A bounded memory of event ids this adapter already queued. Baileys re-emits a message it has
 * already upserted (retries, a `notify` then an `append` of the same key); without this each copy
 * would take its own seq, and the copy that INGEST then deduplicates by Nats-Msg-Id would leave
 * a hole in the instance's seq that persistence reports as a gap. Only a memory of the recent
 * past: an older duplicate still reaches INGEST and is deduplicated there, which is safe.
 */
export interface RecentIds {
  /** True the first time an id is seen (within the window), false for a repeat. */
  remember(id: string): boolean;
}

export function createRecentIds(capacity = 10_000): RecentIds {
  const ids = new Set<string>();
  return {
    remember(id) {
      if (ids.has(id)) return false;
      ids.add(id);
      // A Set iterates in insertion order, so the first entry is the oldest.
      if (ids.size > capacity) ids.delete(ids.values().next().value as string);
      return true;
    },
  };
}
