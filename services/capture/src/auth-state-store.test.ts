import { Curve, initAuthCreds, proto } from '@whiskeysockets/baileys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTenant, type Pool } from '@switchyard/db';
import { createTestPool, createTestTenant, type TestTenant } from '@switchyard/testing';
import { clearAuthState, hasRegisteredCreds, loadAuthState } from './auth-state-store.ts';

describe('Postgres auth state', () => {
  let pool: Pool;
  let tenant: TestTenant;

  beforeAll(async () => {
    pool = await createTestPool();
    tenant = await createTestTenant(pool);
  });
  afterAll(async () => {
    await tenant.cleanup();
    await pool.end();
  });

  it('round-trips creds from initAuthCreds, Buffers included', async () => {
    const db = forTenant(pool, tenant.tenant);
    const first = await loadAuthState(db, 'creds');
    const fresh = initAuthCreds();
    Object.assign(first.state.creds, fresh, { registered: true, me: { id: '4912345:1@s.whatsapp.net', lid: '1234:1@lid' } });
    await first.saveCreds();

    const loaded = await loadAuthState(db, 'creds');
    expect(loaded.state.creds).toEqual(first.state.creds);
    expect(Buffer.isBuffer(loaded.state.creds.noiseKey.private)).toBe(true);
    expect(await hasRegisteredCreds(db, 'creds')).toBe(true);
    expect(await hasRegisteredCreds(db, 'never-paired')).toBe(false);
  });

  it('keeps the latest of rapid saves', async () => {
    const db = forTenant(pool, tenant.tenant);
    const auth = await loadAuthState(db, 'rapid');
    const saves: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      auth.state.creds.nextPreKeyId = i;
      saves.push(auth.saveCreds());
    }
    await Promise.all(saves);
    expect((await loadAuthState(db, 'rapid')).state.creds.nextPreKeyId).toBe(19);
  });

  it('sets, gets and deletes signal keys (null deletes)', async () => {
    const db = forTenant(pool, tenant.tenant);
    const { keys } = (await loadAuthState(db, 'keys')).state;
    const preKey = Curve.generateKeyPair();
    const syncKey = proto.Message.AppStateSyncKeyData.fromObject({
      keyData: Buffer.from('sync-key-bytes'),
      timestamp: 1_700_000_000,
    });
    await keys.set({
      'pre-key': { '1': preKey, '2': Curve.generateKeyPair() },
      session: { 'a.0': Buffer.from([1, 2, 3]) },
      'app-state-sync-key': { AAAA: syncKey },
      'lid-mapping': { '4912345': '1234@lid' },
    });

    const got = await keys.get('pre-key', ['1', '2', '3']);
    expect(got['1']).toEqual(preKey);
    expect(Buffer.isBuffer(got['1']?.private)).toBe(true);
    expect(got['3']).toBeUndefined();
    expect((await keys.get('session', ['a.0']))['a.0']).toEqual(Buffer.from([1, 2, 3]));
    const sync = (await keys.get('app-state-sync-key', ['AAAA']))['AAAA'];
    expect(sync).toBeInstanceOf(proto.Message.AppStateSyncKeyData);
    expect(Buffer.from(sync?.keyData ?? []).toString()).toBe('sync-key-bytes');
    expect((await keys.get('lid-mapping', ['4912345']))['4912345']).toBe('1234@lid');

    await keys.set({ 'pre-key': { '1': null }, session: { 'a.0': Buffer.from([9]) } });
    expect(Object.keys(await keys.get('pre-key', ['1', '2']))).toEqual(['2']);
    expect((await keys.get('session', ['a.0']))['a.0']).toEqual(Buffer.from([9]));

    await clearAuthState(db, 'keys');
    expect(await keys.get('pre-key', ['2'])).toEqual({});
  });
});
