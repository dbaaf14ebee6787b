import type { Command } from 'commander';
import { getExhausted, listExhausted, setExhaustedStatus, type ExhaustedEvent, type ExhaustedStatus } from '@switchyard/db';
import { republishExhausted } from '@switchyard/nats';
import { assertTenantId, dlqReasonSchema, SYSTEM_TENANT, type DlqReason } from '@switchyard/schema';
import type { CliContext } from '../context.ts';
import { parseChoice, parseLimit } from '../options.ts';
import { print, table, type Output } from '../output.ts';

const STATUSES: readonly ExhaustedStatus[] = ['open', 'requeued', 'discarded'];
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * `switchyard dlq …` — the SRE view of exhausted events, straight on Postgres and NATS (the same
 * rows and semantics as the dlq-worker's /api/exhausted). `_system` names the control schema's
 * table of messages that could not be attributed to a provisioned tenant.
 */
export function registerDlqCommands(program: Command, ctx: () => CliContext, out: () => Output): void {
  const dlq = program.command('dlq').description('inspect, requeue and discard exhausted events');

  dlq
    .command('list <tenant>')
    .description("list a tenant's exhausted events, newest first (tenant _system: unattributable ones)")
    .option('--status <status>', 'open | requeued | discarded')
    .option('--reason <reason>', `one of ${dlqReasonSchema.options.join(', ')}`)
    .option('--limit <n>', 'at most this many rows (1-1000)', '50')
    .action(async (tenant: string, opts: { status?: string; reason?: string; limit: string }) => {
      const rows = await listExhausted(await ctx().db(), scope(tenant), {
        limit: parseLimit(opts.limit),
        ...(opts.status !== undefined ? { status: parseChoice('--status', opts.status, STATUSES) } : {}),
        ...(opts.reason !== undefined ? { reason: parseReason(opts.reason) } : {}),
      });
      const summaries = rows.map(summary);
      const columns = ['id', 'status', 'reason', 'service', 'sourceSubject', 'deliveries', 'exhaustedAt', 'error'];
      if (scope(tenant) === SYSTEM_TENANT) columns.splice(1, 0, 'claimedTenant');
      print(out(), table(summaries, columns), summaries);
    });

  dlq
    .command('show <tenant> <id>')
    .description('show one exhausted event: attempts, headers and the payload')
    .action(async (tenant: string, id: string) => {
      const row = await mustGet(await ctx().db(), scope(tenant), id);
      const detail = { ...summary(row), attempts: row.attempts, headers: row.headers, ...payloadOf(row) };
      const human = [
        ...Object.entries(summary(row)).map(([k, v]) => `${k.padEnd(14)} ${cell(v)}`),
        '',
        'attempts:',
        ...row.attempts.map((a) => `  ${a.at}  ${a.service} #${a.delivery}  ${a.error}`),
        'headers:',
        ...Object.entries(row.headers).map(([name, values]) => `  ${name}: ${values.join(', ')}`),
        '',
        detail.payload_text !== null ? `payload (text):\n${detail.payload_text}` : `payload (base64):\n${detail.payload_base64}`,
      ].join('\n');
      print(out(), human, detail);
    });

  dlq
    .command('requeue <tenant> <id>')
    .description('publish the raw payload again to its source subject, then mark the row requeued')
    .action(async (tenant: string, id: string) => {
      const c = ctx();
      const pool = await c.db();
      const t = scope(tenant);
      const row = await mustGet(pool, t, id);
      if (row.status !== 'open') throw new Error(`exhausted event ${id} is ${row.status}; only open rows can be requeued`);
      // Publish first, then mark, as the dlq-worker API does (republishExhausted says why).
      const { subject, msgId, published } = await republishExhausted((await c.nc()).jetstream(), row);
      if (!(await setExhaustedStatus(pool, t, id, 'requeued'))) {
        throw new Error(`exhausted event ${id} was closed by someone else meanwhile; the payload was re-sent anyway (harmless)`);
      }
      print(out(), `requeued ${id} → ${subject} (${published.stream} seq ${published.seq})`, {
        id,
        status: 'requeued',
        subject,
        msgId,
        stream: published.stream,
        seq: published.seq,
      });
    });

  dlq
    .command('discard <tenant> <id>')
    .description('close an open exhausted event without requeueing it')
    .action(async (tenant: string, id: string) => {
      const pool = await ctx().db();
      const t = scope(tenant);
      if (!(await setExhaustedStatus(pool, t, id, 'discarded'))) {
        const row = await mustGet(pool, t, id);
        throw new Error(`exhausted event ${id} is ${row.status}; only open rows can be discarded`);
      }
      print(out(), `discarded ${id}`, { id, status: 'discarded' });
    });
}

function scope(tenant: string): string {
  return tenant === SYSTEM_TENANT ? SYSTEM_TENANT : assertTenantId(tenant);
}

async function mustGet(pool: Awaited<ReturnType<CliContext['db']>>, tenant: string, id: string): Promise<ExhaustedEvent> {
  const row = await getExhausted(pool, tenant, id);
  if (row === null) throw new Error(`tenant ${tenant} has no exhausted event ${id}`);
  return row;
}

function parseReason(raw: string): DlqReason {
  const parsed = dlqReasonSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`--reason must be one of ${dlqReasonSchema.options.join(', ')} (got ${raw})`);
  return parsed.data;
}

type Cell = string | number | boolean | Date | null;

/** Every column but the bulky ones (payload, attempts, headers), which `show` prints apart. */
function summary(row: ExhaustedEvent): Record<string, Cell> {
  const { payload, attempts: _a, headers: _h, ...rest } = row;
  return { ...rest, payloadSize: payload.byteLength };
}

function cell(value: Cell): string {
  if (value instanceof Date) return value.toISOString();
  return value === null ? '-' : String(value);
}

function payloadOf(row: ExhaustedEvent): { payload_base64: string; payload_text: string | null } {
  return { payload_base64: row.payload.toString('base64'), payload_text: utf8Text(row.payload) };
}

function utf8Text(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}
