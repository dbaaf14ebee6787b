import { EVENT_TYPES } from '@switchyard/schema';

/**
 * `type` as the API takes it: one type, a glob (`message.*`, `group.participants_*`, `*`) or a
 * comma-separated list of either, expanded to the known types it names. Expanding here (not
 * LIKE in SQL) keeps `type = ANY(...)` on the type index and turns a typo into a 400 instead
 * of an empty page. Returns null when any part matches no known type.
 */
export function expandTypeFilter(filter: string): string[] | null {
  const types = new Set<string>();
  for (const part of filter.split(',').map((p) => p.trim())) {
    if (!/^[a-z0-9_.*]+$/.test(part)) return null;
    const pattern = new RegExp(`^${part.replaceAll('.', '\\.').replaceAll('*', '.*')}$`);
    const matched = EVENT_TYPES.filter((type) => pattern.test(type));
    if (matched.length === 0) return null;
    for (const type of matched) types.add(type);
  }
  return [...types];
}
