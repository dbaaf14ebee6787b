import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, listExhausted } from '@switchyard/db';
import { ingestSubject, SYSTEM_TENANT } from '@switchyard/schema';
import { eventually, startHttpReceiver, type HttpReceiver } from '@switchyard/testing';
import { messageReceived, utf8 } from '../support/events.ts';
import { startFleet, type Fleet } from '../support/fleet.ts';
import { addEndpointWithCli, createTenantWithCli, dropTenants, storedEventIds, waitStored } from '../support/tenants.ts';

describe('the fleet, end to end', () => {
  let fleet: Fleet;
  let receiver: HttpReceiver;
  const tenants: string[] = [];

  beforeAll(async () => {
    fleet = await startFleet();
    receiver = await startHttpReceiver();
  });

  afterAll(async () => {
    await receiver?.close();
    if (fleet) {
      await dropTenants(fleet.pool, tenants);
      await fleet.stop();
    }
  });

  async function newTenant(prefix: string): Promise<string> {
    const tenant = await createTenantWithCli(fleet.env, prefix);
    tenants.push(tenant);
    return tenant;
  }

  async function publish(event: ReturnType<typeof messageReceived>, msgId = event.id): Promise<void> {
    await fleet.nc.jetstream().publish(ingestSubject(event.tenant, event.instance, event.type), utf8(event), { msgID: msgId });
  }

  it('serves a tenant created while the fleet runs, into Postgres and to its webhook endpoint', async () => {
    const tenant = await newTenant('live');
    await addEndpointWithCli(fleet.env, tenant, `${receiver.url}/hooks/${tenant}`);
    const event = messageReceived(tenant, 'phone-1', 1);
    await publish(event);

    expect(await waitStored(fleet.pool, tenant, [event.id])).toEqual([event.id]);
    const [delivered] = await receiver.waitFor(1, (r) => r.headers['webhook-id'] === event.id);
    expect(delivered?.path).toBe(`/hooks/${tenant}`);
    expect(JSON.parse(delivered!.body)).toMatchObject({ id: event.id, tenant, type: 'message.received', data: { text: 'hello 1' } });
  });

  it('stores and delivers an event published twice with the same id once', async () => {
    const tenant = await newTenant('dup');
    await addEndpointWithCli(fleet.env, tenant, `${receiver.url}/hooks/${tenant}`);
    const event = messageReceived(tenant, 'phone-1', 1);
    await publish(event, `first-${event.id}`); // distinct Nats-Msg-Ids: JetStream keeps both copies
    await publish(event, `second-${event.id}`);
    // A marker published after both copies: once it has arrived, both copies have been processed.
    const marker = messageReceived(tenant, 'phone-1', 2);
    await publish(marker);

    await waitStored(fleet.pool, tenant, [event.id, marker.id]);
    await receiver.waitFor(1, (r) => r.headers['webhook-id'] === marker.id);
    expect(await storedEventIds(fleet.pool, tenant)).toEqual([event.id, marker.id]);
    expect(receiver.requests.filter((r) => r.headers['webhook-id'] === event.id)).toHaveLength(1);
  });

  it("replays stored events to the tenant's webhook endpoint: a dry run sends nothing, a replay sends them again", async () => {
    const tenant = await newTenant('replay');
    await addEndpointWithCli(fleet.env, tenant, `${receiver.url}/hooks/${tenant}`);
    const events = [messageReceived(tenant, 'phone-1', 1), messageReceived(tenant, 'phone-1', 2), messageReceived(tenant, 'phone-2', 1)];
    for (const event of events) await publish(event);
    await waitStored(fleet.pool, tenant, events.map((e) => e.id));
    const deliveries = (id: string) => receiver.requests.filter((r) => r.headers['webhook-id'] === id).length;
    for (const event of events) await receiver.waitFor(1, (r) => r.headers['webhook-id'] === event.id);

    const { key } = await createApiKey(fleet.pool, { tenant, role: 'admin' });
    const replay = async (body: Record<string, unknown>) => {
      const res = await fetch(`${fleet.services['persistence']!.address.url}/api/events/replay`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { data: Record<string, unknown> }).data;
    };
    expect(await replay({ instance: 'phone-1', dry_run: true })).toMatchObject({ dry_run: true, events_found: 2, events_replayed: 0, events_failed: 0 });
    expect(await replay({ instance: 'phone-1' })).toMatchObject({ events_found: 2, events_replayed: 2, events_failed: 0 });

    // The two phone-1 events reach the endpoint a second time, with the same webhook-id; the
    // dry run sent nothing (else three), phone-2 was not asked for, and nothing is stored twice.
    for (const event of events.slice(0, 2)) await receiver.waitFor(2, (r) => r.headers['webhook-id'] === event.id);
    await new Promise((r) => setTimeout(r, 500));
    expect(events.map((e) => deliveries(e.id))).toEqual([2, 2, 1]);
    expect(await storedEventIds(fleet.pool, tenant)).toEqual(events.map((e) => e.id));
  });

  it('exhausts a malformed event with SCHEMA_INVALID and its raw bytes while the events after it flow', async () => {
    const tenant = await newTenant('bad');
    const subject = ingestSubject(tenant, 'phone-1', 'message.received');
    const malformed = utf8({ id: 'x', tenant, type: 'message.received', data: { nonsense: true } });
    await fleet.nc.jetstream().publish(subject, malformed);
    const after = [messageReceived(tenant, 'phone-1', 1), messageReceived(tenant, 'phone-1', 2)];
    for (const event of after) await publish(event);

    expect(await waitStored(fleet.pool, tenant, after.map((e) => e.id))).toEqual(after.map((e) => e.id));
    const [row] = await eventually(async () => {
      const rows = await listExhausted(fleet.pool, tenant, { limit: 10 });
      return rows.length > 0 ? rows : undefined;
    }, 30_000, 'an exhausted_events row');
    expect(row).toMatchObject({ reason: 'SCHEMA_INVALID', sourceSubject: subject, status: 'open' });
    expect(Buffer.compare(row!.payload, Buffer.from(malformed))).toBe(0);
    // Nothing of this tenant was attributed to the system DLQ instead.
    const system = await listExhausted(fleet.pool, SYSTEM_TENANT, { limit: 1000 });
    expect(system.filter((r) => r.sourceSubject === subject)).toHaveLength(0);
  });

  it("keeps each tenant's events in its own schema", async () => {
    const [a, b] = [await newTenant('iso'), await newTenant('iso')] as [string, string];
    const eventsA = Array.from({ length: 5 }, (_, i) => messageReceived(a, 'phone-1', i + 1));
    const eventsB = Array.from({ length: 5 }, (_, i) => messageReceived(b, 'phone-1', i + 1));
    for (let i = 0; i < 5; i++) {
      await publish(eventsA[i]!);
      await publish(eventsB[i]!);
    }
    const storedA = await waitStored(fleet.pool, a, eventsA.map((e) => e.id));
    const storedB = await waitStored(fleet.pool, b, eventsB.map((e) => e.id));
    expect([...storedA].sort()).toEqual(eventsA.map((e) => e.id).sort());
    expect([...storedB].sort()).toEqual(eventsB.map((e) => e.id).sort());
  });
});
