/**
 * The oldest event time a tenant keeping events for `retentionDays` still has. Events are kept in
 * monthly partitions (UTC) and a month goes only once all of it is older than now − retentionDays,
 * so what is kept starts at the first day of the month holding that cutoff. Persistence drops its
 * partitions by this rule and media removes the media of the messages they held by the same one.
 * Undefined when the tenant keeps everything (0).
 */
export function retainedFrom(retentionDays: number, now: Date): Date | undefined {
  if (retentionDays <= 0) return undefined;
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  return new Date(Date.UTC(cutoff.getUTCFullYear(), cutoff.getUTCMonth(), 1));
}
