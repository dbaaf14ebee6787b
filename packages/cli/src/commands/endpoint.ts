import type { Command } from 'commander';
import { addEndpoint, listEndpoints, removeEndpoint } from '@switchyard/db';
import { assertTenantId } from '@switchyard/schema';
import type { CliContext } from '../context.ts';
import { print, table, type Output } from '../output.ts';

export function registerEndpointCommands(program: Command, ctx: () => CliContext, out: () => Output): void {
  const endpoint = program.command('endpoint').description("manage a tenant's webhook endpoints");

  endpoint
    .command('add <tenant> <url>')
    .description('register a webhook endpoint; its signing secret is shown once')
    .option('--types <patterns>', 'comma-separated event type patterns (e.g. message.*,session.*)', '*')
    .option('--timeout <ms>', 'request timeout in milliseconds', '10000')
    .action(async (tenant: string, url: string, opts: { types: string; timeout: string }) => {
      const timeoutMs = Number(opts.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 60_000) {
        throw new Error(`--timeout must be an integer between 100 and 60000 ms (got ${opts.timeout})`);
      }
      const eventTypes = opts.types.split(',').map((t) => t.trim()).filter(Boolean);
      const created = await addEndpoint(await ctx().db(), assertTenantId(tenant), { url, eventTypes, timeoutMs });
      print(
        out(),
        `added endpoint ${created.id} for ${tenant} → ${created.url} (${eventTypes.join(', ')})\n\n  signing secret: ${created.secret}\n\nStore it now: it is not shown again.`,
        created,
      );
    });

  endpoint
    .command('list <tenant>')
    .description("list a tenant's endpoints (secrets hidden)")
    .action(async (tenant: string) => {
      const rows = (await listEndpoints(await ctx().db(), assertTenantId(tenant))).map(({ secret: _s, ...rest }) => rest);
      print(out(), table(rows, ['id', 'url', 'eventTypes', 'enabled', 'timeoutMs', 'createdAt']), rows);
    });

  endpoint
    .command('remove <tenant> <id>')
    .description('remove an endpoint')
    .action(async (tenant: string, id: string) => {
      const removed = await removeEndpoint(await ctx().db(), assertTenantId(tenant), id);
      if (!removed) throw new Error(`tenant ${tenant} has no endpoint ${id}`);
      print(out(), `removed ${id}`, { id, removed });
    });
}
