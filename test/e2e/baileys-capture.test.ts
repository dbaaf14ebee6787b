import { makeEventBuffer } from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpReceiver, type HttpReceiver } from '@switchyard/testing';
import { messageEventId } from '../../services/capture/src/message-mapper.ts';
import { fixture } from '../../services/capture/src/test-support.ts';
import { startFleet, type Fleet } from '../support/fleet.ts';
import { addEndpointWithCli, createTenantWithCli, dropTenants, storedEventIds, waitStored } from '../support/tenants.ts';

const baileysLogger = pino({ level: 'silent' });

function idOf(tenant: string, instance: string, name: string): string {
  const message = fixture(name).upsert.messages[0]!;
  return messageEventId(tenant, instance, message.key.remoteJid!, message.key.id!, Boolean(message.key.fromMe));
}

describe('a WhatsApp message captured through Baileys', () => {
  let fleet: Fleet;
  let receiver: HttpReceiver;
  let tenant: string;

  beforeAll(async () => {
    fleet = await startFleet();
    receiver = await startHttpReceiver();
    tenant = await createTenantWithCli(fleet.env, 'wa');
    await addEndpointWithCli(fleet.env, tenant, `${receiver.url}/wa`);
  });

  afterAll(async () => {
    await receiver?.close();
    if (fleet) {
      await dropTenants(fleet.pool, [tenant]);
      await fleet.stop();
    }
  });

  it('lands once in the tenant schema and once at the endpoint, even when captured twice', async () => {
    const instance = 'phone-1';
    const textId = idOf(tenant, instance, 'text-received-lid');
    const imageId = idOf(tenant, instance, 'image-received');

    // First capture, through Baileys' own event emitter.
    const first = makeEventBuffer(baileysLogger);
    const adapterA = fleet.capture.attach({ ev: first, tenant, instance });
    first.emit('messages.upsert', fixture('text-received-lid').upsert);
    await adapterA.idle();
    adapterA.detach();

    // The same message captured again by a fresh session (as after a restart or on another
    // replica), followed by a second message that tells us when both have gone through.
    const second = makeEventBuffer(baileysLogger);
    const adapterB = fleet.capture.attach({ ev: second, tenant, instance });
    second.emit('messages.upsert', fixture('text-received-lid').upsert);
    second.emit('messages.upsert', fixture('image-received').upsert);
    await adapterB.idle();

    await waitStored(fleet.pool, tenant, [textId, imageId]);
    await receiver.waitFor(1, (r) => r.headers['webhook-id'] === imageId);
    expect(await storedEventIds(fleet.pool, tenant)).toEqual([textId, imageId]);

    const deliveries = receiver.requests.filter((r) => r.headers['webhook-id'] === textId);
    expect(deliveries).toHaveLength(1);
    const body = JSON.parse(deliveries[0]!.body) as { type: string; source: string; seq: number; data: Record<string, unknown> };
    expect(body).toMatchObject({ type: 'message.received', source: 'baileys', seq: 1 });
    expect(body.data['chat_lid']).toMatch(/@lid$/);
    expect(body.data['chat_jid']).toMatch(/@s\.whatsapp\.net$/);
  });
});
