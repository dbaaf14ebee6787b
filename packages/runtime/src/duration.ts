const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/**
 * Parses `250ms`, `10s`, `2m`, `1h`, `7d` (decimals allowed: `1.5s`) into milliseconds.
 * A bare number is rejected on purpose: "30" could mean seconds or milliseconds.
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  return Math.round(Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS]);
}

/** Parses a comma-separated list such as `0s,10s,30s,2m`; undefined if any entry is invalid. */
export function parseDurationList(text: string): number[] | undefined {
  const parts = text.split(',').map((part) => part.trim());
  const values = parts.map(parseDuration);
  return values.every((value) => value !== undefined) ? values : undefined;
}
