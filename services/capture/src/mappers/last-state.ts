/**
 * The last update seen per entity (`chat.updated:<jid>` → content hash), so an update identical
 * to the previous one for the same entity is recognised as a repeat. Baileys repeats itself:
 * `contacts.update` with the sender's push name follows every incoming message. Only identical
 * *consecutive* updates are collapsed — A, B, A stays three events — and the memory is bounded
 * (the oldest entity is forgotten first), so forgetting only costs a harmless repeat.
 */
export interface LastState {
  /** True when `hash` differs from the last one recorded for `key` (and records it). */
  changed(key: string, hash: string): boolean;
}

export function createLastState(capacity = 10_000): LastState {
  const last = new Map<string, string>();
  return {
    changed(key, hash) {
      if (last.get(key) === hash) return false;
      // Re-inserting moves the key to the end, so Map order stays least-recently-updated first.
      last.delete(key);
      last.set(key, hash);
      if (last.size > capacity) {
        const oldest = last.keys().next();
        if (oldest.done !== true) last.delete(oldest.value);
      }
      return true;
    },
  };
}
