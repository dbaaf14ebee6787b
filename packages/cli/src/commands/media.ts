import type { Command } from 'commander';
import { getMediaJob, listMediaJobs, listMediaPurges, MEDIA_JOB_STATUSES } from '@switchyard/db';
import { assertTenantId } from '@switchyard/schema';
import type { CliContext } from '../context.ts';
import { parseChoice, parseLimit } from '../options.ts';
import { print, table, type Output } from '../output.ts';

/**
 * `switchyard media …` — what the media service did with a tenant's media, straight from the
 * tenant's `media_jobs` (the job of a message event that carried media: pending, stored or
 * failed, with its attempts and last error). Requeueing a failed one is `dlq requeue`. And the
 * deleted tenants whose stored media the media service removes (`media purges`).
 */
export function registerMediaCommands(program: Command, ctx: () => CliContext, out: () => Output): void {
  const media = program.command('media').description("inspect a tenant's media jobs (fetch, decrypt, store)");

  media
    .command('list <tenant>')
    .description('list media jobs, most recently changed first')
    .option('--status <status>', MEDIA_JOB_STATUSES.join(' | '))
    .option('--limit <n>', 'at most this many rows (1-1000)', '50')
    .action(async (tenant: string, opts: { status?: string; limit: string }) => {
      const jobs = await listMediaJobs(await ctx().db(), assertTenantId(tenant), {
        limit: parseLimit(opts.limit),
        ...(opts.status !== undefined ? { status: parseChoice('--status', opts.status, MEDIA_JOB_STATUSES) } : {}),
      });
      print(out(), table(jobs as unknown as Record<string, unknown>[], ['eventId', 'status', 'kind', 'attempts', 'size', 'updatedAt', 'lastError']), jobs);
    });

  media
    .command('show <tenant> <event-id>')
    .description('show one message event\'s media job: where it is stored, or why it failed')
    .action(async (tenant: string, eventId: string) => {
      const job = await getMediaJob(await ctx().db(), assertTenantId(tenant), eventId);
      if (job === null) throw new Error(`tenant ${tenant} has no media job for event ${eventId} (the event carried no media, or media has not read it yet)`);
      const human = Object.entries(job)
        .map(([k, v]) => `${k.padEnd(11)} ${v instanceof Date ? v.toISOString() : v === null ? '-' : String(v)}`)
        .join('\n');
      print(out(), human, job);
    });

  media
    .command('purges')
    .description("deleted tenants whose stored media the media service removes, newest deletion first (pending ones show attempts and the last error)")
    .option('--limit <n>', 'at most this many rows (1-1000)', '50')
    .action(async (opts: { limit: string }) => {
      const purges = await listMediaPurges(await ctx().db(), parseLimit(opts.limit));
      const rows = purges.map((p) => ({ ...p, state: p.purgedAt !== null ? 'purged' : 'pending' }));
      print(out(), table(rows, ['tenant', 'deletedAt', 'state', 'purgedAt', 'objects', 'attempts', 'lastError']), rows);
    });
}
