/**
 * Whether an endpoint subscribed with `patterns` wants an event of `type`. A pattern is an exact
 * type or a glob where `*` stands for any run of characters, dots included: `*` matches every
 * type, `message.*` every message event, `*.deleted` every deletion.
 */
export function matchesEventType(patterns: readonly string[], type: string): boolean {
  return patterns.some((pattern) => matchesGlob(pattern, type));
}

function matchesGlob(pattern: string, text: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === text;
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (text.length < first.length + last.length || !text.startsWith(first) || !text.endsWith(last)) return false;
  // The middle pieces must appear in order between the fixed prefix and suffix; taking the
  // earliest occurrence of each is always safe for `*`-only globs.
  let from = first.length;
  const until = text.length - last.length;
  for (const middle of parts.slice(1, -1)) {
    const at = text.indexOf(middle, from);
    if (at === -1 || at + middle.length > until) return false;
    from = at + middle.length;
  }
  return true;
}
