import type { Command } from 'commander';
import type { NatsConnection } from 'nats';
import qrcode from 'qrcode-terminal';
import { z } from 'zod';
import { assertInstanceId, assertTenantId } from '@switchyard/schema';
import type { CliContext } from '../context.ts';
import { print, table, type Output } from '../output.ts';

/**
 * Capture answers session requests here (services/capture/src/session-control-responder.ts). The
 * CLI asks capture rather than writing `wa_sessions` itself: only the replica holding an instance
 * can act on its socket, and capture owns that table's rules.
 */
const SESSION_CONTROL_SUBJECT = 'switchyard.capture.sessions.control';

const sessionSchema = z.object({
  instance: z.string(),
  desired: z.string(),
  status: z.string(),
  qr: z.string().nullable(),
  pairing_phone: z.string().nullable(),
  pairing_code: z.string().nullable(),
  status_code: z.number().nullable(),
  last_error: z.string().nullable(),
  me: z.object({ jid: z.string().nullable(), lid: z.string().nullable() }),
  owner: z.string().nullable(),
  updated_at: z.string(),
});
type Session = z.infer<typeof sessionSchema>;

const replySchema = z.union([
  z.object({ ok: z.literal(true), data: z.unknown() }),
  z.object({ ok: z.literal(false), code: z.string(), message: z.string() }),
]);

async function ask(nc: NatsConnection, request: Record<string, unknown>): Promise<unknown> {
  let raw: Uint8Array;
  try {
    raw = (await nc.request(SESSION_CONTROL_SUBJECT, new TextEncoder().encode(JSON.stringify(request)), { timeout: 10_000 })).data;
  } catch (err) {
    throw new Error('no capture replica answered: is the capture service running on this NATS?', { cause: err });
  }
  const reply = replySchema.parse(JSON.parse(new TextDecoder().decode(raw)));
  if (!reply.ok) throw new Error(`${reply.code}: ${reply.message}`);
  return reply.data;
}

async function sessionOf(nc: NatsConnection, request: Record<string, unknown>): Promise<Session> {
  return z.object({ session: sessionSchema }).parse(await ask(nc, request)).session;
}

function describeSession(s: Session): string {
  const rows = [
    ['instance', s.instance],
    ['status', s.status],
    ['desired', s.desired],
    ['me', [s.me.jid, s.me.lid].filter(Boolean).join(' / ') || '-'],
    ['owner', s.owner ?? '-'],
    ['last error', s.status_code !== null ? `${s.status_code} ${s.last_error ?? ''}` : (s.last_error ?? '-')],
    ['pairing code', s.pairing_code ?? '-'],
    ['updated', s.updated_at],
  ];
  return rows.map(([k, v]) => `${(k ?? '').padEnd(13)} ${v}`).join('\n');
}

/** `switchyard session …` — WhatsApp sessions of a tenant, through the capture service. */
export function registerSessionCommands(program: Command, ctx: () => CliContext, out: () => Output): void {
  const session = program.command('session').description('create, connect (QR or pairing code), inspect, log out and delete WhatsApp sessions');
  const ids = (tenant: string, instance: string) => ({ tenant: assertTenantId(tenant), instance: assertInstanceId(instance) });

  session
    .command('create <tenant> <instance>')
    .description('declare a session (stopped until connected)')
    .action(async (tenant: string, instance: string) => {
      const data = z.object({ created: z.boolean(), session: sessionSchema }).parse(await ask(await ctx().nc(), { op: 'create', ...ids(tenant, instance) }));
      print(out(), `${data.created ? 'created' : 'already exists'}: ${tenant}/${instance}`, data);
    });

  session
    .command('list <tenant>')
    .description("list a tenant's sessions")
    .action(async (tenant: string) => {
      const { sessions } = z.object({ sessions: z.array(sessionSchema) }).parse(await ask(await ctx().nc(), { op: 'list', tenant: assertTenantId(tenant) }));
      print(out(), table(sessions, ['instance', 'status', 'desired', 'owner', 'updated_at']), sessions);
    });

  session
    .command('status <tenant> <instance>')
    .description('show a session, with its QR code while pairing')
    .action(async (tenant: string, instance: string) => {
      const s = await sessionOf(await ctx().nc(), { op: 'status', ...ids(tenant, instance) });
      print(out(), s.qr !== null && s.status === 'qr' ? `${describeSession(s)}\n\n${renderQr(s.qr)}` : describeSession(s), s);
    });

  session
    .command('connect <tenant> <instance>')
    .description('connect and wait: prints each QR code to scan (or the pairing code) until the session is open')
    .option('--pairing-code <phone>', 'pair by entering a code on this phone (international number, digits only) instead of the QR')
    .option('--timeout <seconds>', 'give up waiting after this long (the session keeps trying)', '180')
    .action(async (tenant: string, instance: string, opts: { pairingCode?: string; timeout: string }) => {
      const nc = await ctx().nc();
      const target = ids(tenant, instance);
      const phone = opts.pairingCode?.replace(/^\+/, '');
      await sessionOf(nc, { op: 'connect', ...target, ...(phone !== undefined ? { pairing_phone: phone } : {}) });
      const deadline = Date.now() + Number(opts.timeout) * 1000;
      let shownQr: string | null = null;
      let shownCode: string | null = null;
      for (;;) {
        const s = await sessionOf(nc, { op: 'status', ...target });
        if (s.status === 'open') {
          print(out(), `connected: ${s.me.jid ?? s.me.lid ?? instance}`, s);
          return;
        }
        if (s.status === 'logged_out' || s.status === 'replaced' || s.desired === 'stopped') {
          throw new Error(`session ${tenant}/${instance} is ${s.status}${s.last_error ? ` (${s.last_error})` : ''}`);
        }
        if (!out().json && phone === undefined && s.qr !== null && s.qr !== shownQr) {
          shownQr = s.qr;
          process.stdout.write(`\nScan with WhatsApp → Linked devices → Link a device:\n${renderQr(s.qr)}\n`);
        }
        if (!out().json && s.pairing_code !== null && s.pairing_code !== shownCode) {
          shownCode = s.pairing_code;
          process.stdout.write(`\nOn the phone: Linked devices → Link with phone number → enter ${s.pairing_code}\n`);
        }
        if (Date.now() > deadline) throw new Error(`not connected within ${opts.timeout}s (status ${s.status}); the session keeps trying`);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    });

  session
    .command('logout <tenant> <instance>')
    .description('log the device out on WhatsApp and forget its credentials')
    .action(async (tenant: string, instance: string) => {
      const s = await sessionOf(await ctx().nc(), { op: 'logout', ...ids(tenant, instance) });
      print(out(), `logout requested for ${tenant}/${instance}`, s);
    });

  session
    .command('delete <tenant> <instance>')
    .description('log out and delete the session (events already captured are still delivered)')
    .action(async (tenant: string, instance: string) => {
      const s = await sessionOf(await ctx().nc(), { op: 'delete', ...ids(tenant, instance) });
      print(out(), `delete requested for ${tenant}/${instance}`, s);
    });
}

function renderQr(payload: string): string {
  let rendered = '';
  qrcode.generate(payload, { small: true }, (text) => {
    rendered = text;
  });
  return rendered;
}
