import type { Command } from 'commander';
import {
  addEndpoint,
  listEndpoints,
  removeEndpoint,
  rotateEndpointSecret,
  setEndpointEnabled,
  updateEndpoint,
  type Endpoint,
  type UpdateEndpointInput,
} from '@switchyard/db';
import { parseDurationList, parseDuration } from '@switchyard/runtime';
import { assertTenantId } from '@switchyard/schema';
import type { CliContext } from '../context.ts';
import { print, table, type Output } from '../output.ts';

interface SettingsOptions {
  types?: string;
  timeout?: string;
  retryDelays?: string;
  concurrency?: string;
  rateLimit?: string;
  header?: string[];
  url?: string;
}

// The CLI writes the control schema directly (operator access), so the dispatcher picks edits up
// within WEBHOOK_ENDPOINT_CACHE_TTL. The SSRF guard still refuses private targets at delivery.
export function registerEndpointCommands(program: Command, ctx: () => CliContext, out: () => Output): void {
  const endpoint = program.command('endpoint').description("manage a tenant's webhook endpoints");
  const withSettings = (command: Command): Command =>
    command
      .option('--types <patterns>', 'comma-separated event type patterns (e.g. message.*,session.*)')
      .option('--timeout <ms>', 'request timeout in milliseconds (100-60000)')
      .option('--retry-delays <list>', "the endpoint's own retry schedule, e.g. 0s,10s,30s,2m ('default' for the service's)")
      .option('--concurrency <n>', "requests in flight at once ('default' for the service's)")
      .option('--rate-limit <n>', "requests per second ('default' for the service's)")
      .option('--header <name:value>', 'a custom header sent with every delivery (repeatable)', (v: string, all: string[] = []) => [...all, v]);

  withSettings(endpoint.command('add <tenant> <url>'))
    .description('register a webhook endpoint; its signing secret is shown once')
    .action(async (tenant: string, url: string, opts: SettingsOptions) => {
      const settings = parseSettings({ types: '*', timeout: '10000', ...opts });
      const created = await addEndpoint(await ctx().db(), assertTenantId(tenant), { url, ...settings });
      print(
        out(),
        `added endpoint ${created.id} for ${tenant} → ${created.url} (${created.eventTypes.join(', ')})\n\n  signing secret: ${created.secret}\n\nStore it now: it is not shown again.`,
        created,
      );
    });

  endpoint
    .command('list <tenant>')
    .description("list a tenant's endpoints (secrets hidden)")
    .action(async (tenant: string) => {
      const rows = (await listEndpoints(await ctx().db(), assertTenantId(tenant))).map(hideSecrets);
      print(out(), table(rows, ['id', 'url', 'eventTypes', 'enabled', 'timeoutMs', 'retryDelaysMs', 'disabledReason', 'createdAt']), rows);
    });

  withSettings(endpoint.command('update <tenant> <id>'))
    .description('change an endpoint (only the options given)')
    .option('--url <url>', 'a new URL')
    .action(async (tenant: string, id: string, opts: SettingsOptions) => {
      const updated = await updateEndpoint(await ctx().db(), assertTenantId(tenant), id, { ...(opts.url ? { url: opts.url } : {}), ...parseSettings(opts) });
      if (updated === null) throw new Error(`tenant ${tenant} has no endpoint ${id}`);
      print(out(), `updated ${id}`, hideSecrets(updated));
    });

  endpoint
    .command('remove <tenant> <id>')
    .description('remove an endpoint')
    .action(async (tenant: string, id: string) => {
      const removed = await removeEndpoint(await ctx().db(), assertTenantId(tenant), id);
      if (!removed) throw new Error(`tenant ${tenant} has no endpoint ${id}`);
      print(out(), `removed ${id}`, { id, removed });
    });

  endpoint
    .command('rotate-secret <tenant> <id>')
    .description('replace the signing secret; the old one keeps signing during the overlap')
    .option('--overlap <duration>', 'how long the old secret still signs (e.g. 24h, 0s)', '24h')
    .action(async (tenant: string, id: string, opts: { overlap: string }) => {
      const overlapMs = parseDuration(opts.overlap);
      if (overlapMs === undefined) throw new Error(`--overlap must be a duration like 24h (got ${opts.overlap})`);
      const rotated = await rotateEndpointSecret(await ctx().db(), assertTenantId(tenant), id, overlapMs);
      if (rotated === null) throw new Error(`tenant ${tenant} has no endpoint ${id}`);
      print(out(), `rotated ${id}\n\n  new signing secret: ${rotated.secret}\n\nStore it now: it is not shown again.`, { id, secret: rotated.secret, previousSecretExpiresAt: rotated.previousSecretExpiresAt });
    });

  for (const enabled of [true, false]) {
    endpoint
      .command(`${enabled ? 'enable' : 'disable'} <tenant> <id>`)
      .description(enabled ? 'enable an endpoint (undelivered deliveries resume)' : 'disable an endpoint (no new deliveries; pending ones wait)')
      .action(async (tenant: string, id: string) => {
        const found = await setEndpointEnabled(await ctx().db(), assertTenantId(tenant), id, enabled);
        if (!found) throw new Error(`tenant ${tenant} has no endpoint ${id}`);
        print(out(), `${enabled ? 'enabled' : 'disabled'} ${id}`, { id, enabled });
      });
  }
}

function hideSecrets({ secret: _s, previousSecret: _p, ...rest }: Endpoint): Omit<Endpoint, 'secret' | 'previousSecret'> {
  return rest;
}

function parseSettings(opts: SettingsOptions): UpdateEndpointInput {
  const settings: UpdateEndpointInput = {};
  if (opts.types !== undefined) settings.eventTypes = opts.types.split(',').map((t) => t.trim()).filter(Boolean);
  if (opts.timeout !== undefined) {
    const timeoutMs = Number(opts.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 60_000) {
      throw new Error(`--timeout must be an integer between 100 and 60000 ms (got ${opts.timeout})`);
    }
    settings.timeoutMs = timeoutMs;
  }
  if (opts.retryDelays !== undefined) {
    const delays = opts.retryDelays === 'default' ? null : parseDurationList(opts.retryDelays);
    if (delays === undefined) throw new Error(`--retry-delays must be durations like 0s,10s,2m (got ${opts.retryDelays})`);
    settings.retryDelaysMs = delays;
  }
  if (opts.concurrency !== undefined) settings.maxConcurrency = opts.concurrency === 'default' ? null : Number(opts.concurrency);
  if (opts.rateLimit !== undefined) settings.rateLimitPerSecond = opts.rateLimit === 'default' ? null : Number(opts.rateLimit);
  if (opts.header !== undefined) {
    settings.headers = Object.fromEntries(
      opts.header.map((h) => {
        const at = h.indexOf(':');
        if (at <= 0) throw new Error(`--header must be name:value (got ${h})`);
        return [h.slice(0, at).trim(), h.slice(at + 1).trim()];
      }),
    );
  }
  return settings;
}
