import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { makeEventBuffer } from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTenant } from '@switchyard/db';
import { deriveEventId } from '@switchyard/schema';
import { eventually, startHttpReceiver, type HttpReceiver } from '@switchyard/testing';
import { startBlobServer, type BlobServer } from '../../services/media/src/test-support.ts';
import { messageEventId } from '../../services/capture/src/message-mapper.ts';
import { fixture } from '../../services/capture/src/test-support.ts';
import { startFleet, type Fleet } from '../support/fleet.ts';
import { addEndpointWithCli, createTenantWithCli, dropTenants, storedEventIds, waitStored } from '../support/tenants.ts';

const baileysLogger = pino({ level: 'silent' });

function idOf(tenant: string, instance: string, name: string): string {
  const message = fixture(name).upsert.messages[0]!;
  return messageEventId(tenant, instance, message.key.remoteJid!, message.key.id!, Boolean(message.key.fromMe));
}

/** The blob the recorded image message points at (its directPath), encrypted by Baileys when recorded. */
const IMAGE_BLOB = readFileSync(new URL('../fixtures/baileys/media/image-received.enc', import.meta.url));

describe('a WhatsApp message captured through Baileys', () => {
  let fleet: Fleet;
  let receiver: HttpReceiver;
  let mediaHost: BlobServer;
  let tenant: string;

  beforeAll(async () => {
    // WhatsApp's media host, stood in for on loopback, serving the recorded image's blob.
    mediaHost = await startBlobServer();
    mediaHost.serve('/v/t62.7118-24/image-received.enc', { body: IMAGE_BLOB });
    fleet = await startFleet({ MEDIA_DOWNLOAD_BASE_URL: mediaHost.url });
    receiver = await startHttpReceiver();
    tenant = await createTenantWithCli(fleet.env, 'wa');
    await addEndpointWithCli(fleet.env, tenant, `${receiver.url}/wa`);
  });

  afterAll(async () => {
    await receiver?.close();
    await mediaHost?.stop();
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

    // The image's media is fetched, decrypted and announced: media.stored follows it (no seq).
    const storedId = deriveEventId('media.stored', tenant, imageId);
    await waitStored(fleet.pool, tenant, [textId, imageId, storedId]);
    await receiver.waitFor(1, (r) => r.headers['webhook-id'] === imageId);
    expect(await storedEventIds(fleet.pool, tenant)).toEqual([textId, imageId, storedId]);

    const deliveries = receiver.requests.filter((r) => r.headers['webhook-id'] === textId);
    expect(deliveries).toHaveLength(1);
    const body = JSON.parse(deliveries[0]!.body) as { type: string; source: string; seq: number; data: Record<string, unknown> };
    expect(body).toMatchObject({ type: 'message.received', source: 'baileys', seq: 1 });
    expect(body.data['chat_lid']).toMatch(/@lid$/);
    expect(body.data['chat_jid']).toMatch(/@s\.whatsapp\.net$/);
  });

  it("stores the captured image's media, decrypted and verified, once, and tells persistence and the endpoint", async () => {
    const imageId = idOf(tenant, 'phone-1', 'image-received');
    const storedId = deriveEventId('media.stored', tenant, imageId);
    const row = await eventually(async () => {
      const { rows } = await forTenant(fleet.pool, tenant).query<{ storage_url: string | null; sha256: string | null; size: string | null; descriptor: { file_sha256: string } | null; stored_event_id: string | null }>(
        "SELECT storage_url, sha256, size, descriptor, stored_event_id FROM :SCHEMA.media WHERE instance = 'phone-1' AND message_id = '3EB0A1B2C3D4E5F60003'",
      );
      return rows[0]?.storage_url ? rows[0] : undefined;
    }, 30_000, 'the media row with its storage URL');
    // The capture descriptor and the stored file meet: same plaintext hash, the file on disk decrypted.
    expect(row.stored_event_id).toBe(storedId);
    expect(row.sha256).toBe(row.descriptor?.file_sha256);
    const file = await readFile(fileURLToPath(row.storage_url!));
    expect(file.length).toBe(Number(row.size));
    expect(createHash('sha256').update(file).digest('base64')).toBe(row.sha256);
    expect(file.subarray(1, 4).toString('latin1')).toBe('PNG');
    // Fetched once, though the image was captured once and nothing asked twice.
    expect(mediaHost.hits('/v/t62.7118-24/image-received.enc')).toBe(1);
    const announced = await receiver.waitFor(1, (r) => r.headers['webhook-id'] === storedId);
    expect(JSON.parse(announced[0]!.body)).toMatchObject({ type: 'media.stored', data: { source_event_id: imageId, kind: 'image', mimetype: 'image/png' } });
  });
});
