/** Option values the commands share, checked with a message that names the flag and the bad value. */

/** `--limit`: an integer in 1..1000, as every listing takes. */
export function parseLimit(raw: string): number {
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new Error(`--limit must be an integer between 1 and 1000 (got ${raw})`);
  return limit;
}

/** A flag that takes one of a fixed set of words (`--status open`). */
export function parseChoice<const T extends string>(flag: string, raw: string, choices: readonly T[]): T {
  const choice = choices.find((c) => c === raw);
  if (choice === undefined) throw new Error(`${flag} must be one of ${choices.join(', ')} (got ${raw})`);
  return choice;
}
