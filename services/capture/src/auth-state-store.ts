import {
  BufferJSON,
  initAuthCreds,
  proto,
  type AuthenticationCreds,
  type AuthenticationState,
  type SignalDataSet,
  type SignalDataTypeMap,
  type SignalKeyStore,
} from '@whiskeysockets/baileys';
import type { TenantDb, TenantQueryable } from '@switchyard/db';
import { isRecord } from './wa-readers.ts';

export interface PostgresAuthState {
  /** What `makeWASocket({ auth })` takes; `creds` is the live object Baileys mutates. */
  readonly state: AuthenticationState;
  /** Writes the current creds (call on every `creds.update`); saves run one after another. */
  saveCreds(): Promise<void>;
}

/**
 * Baileys auth state for one instance in the tenant schema (`wa_auth_creds`, `wa_auth_keys`),
 * never in local files, so whichever replica holds the instance's lease resumes the session
 * without a new QR. Values go through Baileys' BufferJSON so Buffers survive the round trip.
 * A session that never paired starts from `initAuthCreds()`; nothing is written until Baileys
 * reports a `creds.update`.
 */
export async function loadAuthState(db: TenantDb, instance: string): Promise<PostgresAuthState> {
  const creds = (await readCreds(db, instance)) ?? initAuthCreds();
  // Saves are chained: two creds.update in quick succession would otherwise race on two pool
  // connections and the older snapshot could commit last.
  let saving: Promise<void> = Promise.resolve();
  return {
    state: { creds, keys: postgresKeyStore(db, instance) },
    saveCreds() {
      const json = serialise(creds);
      const next = saving.then(() => writeCreds(db, instance, json));
      saving = next.catch(() => undefined);
      return next;
    },
  };
}

/** Removes an instance's creds and keys (logout, delete): the next connect pairs afresh. */
export async function clearAuthState(db: TenantDb, instance: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(`DELETE FROM :SCHEMA.wa_auth_keys WHERE instance = $1`, [instance]);
    await tx.query(`DELETE FROM :SCHEMA.wa_auth_creds WHERE instance = $1`, [instance]);
  });
}

/** Whether the instance has stored creds of a completed pairing (a restart needs no QR). */
export async function hasRegisteredCreds(db: TenantQueryable, instance: string): Promise<boolean> {
  const creds = await readCreds(db, instance);
  return creds?.registered === true || creds?.me !== undefined;
}

function serialise(value: unknown): string {
  return JSON.stringify(value, BufferJSON.replacer);
}

function revive(text: string): unknown {
  return JSON.parse(text, BufferJSON.reviver) as unknown;
}

async function readCreds(db: TenantQueryable, instance: string): Promise<AuthenticationCreds | undefined> {
  const result = await db.query<{ creds: string }>(
    `SELECT creds::text AS creds FROM :SCHEMA.wa_auth_creds WHERE instance = $1`,
    [instance],
  );
  const text = result.rows[0]?.creds;
  if (text === undefined) return undefined;
  const value = revive(text);
  // Written only by saveCreds from Baileys' own object; the key pairs are what a socket cannot do without.
  if (!isRecord(value) || !isRecord(value['noiseKey']) || !isRecord(value['signedIdentityKey']))
    throw new Error(`stored creds of ${instance} are not Baileys AuthenticationCreds`);
  return value as unknown as AuthenticationCreds;
}

async function writeCreds(db: TenantQueryable, instance: string, json: string): Promise<void> {
  // One statement: a crash leaves either the old creds or the new ones, never half of them.
  await db.query(
    `INSERT INTO :SCHEMA.wa_auth_creds (instance, creds, updated_at) VALUES ($1, $2::jsonb, now())
     ON CONFLICT (instance) DO UPDATE SET creds = EXCLUDED.creds, updated_at = EXCLUDED.updated_at`,
    [instance, json],
  );
}

function postgresKeyStore(db: TenantDb, instance: string): SignalKeyStore {
  return {
    async get<T extends keyof SignalDataTypeMap>(type: T, ids: string[]) {
      const out: { [id: string]: SignalDataTypeMap[T] } = {};
      if (ids.length === 0) return out;
      const result = await db.query<{ id: string; value: string }>(
        `SELECT id, value::text AS value FROM :SCHEMA.wa_auth_keys
         WHERE instance = $1 AND type = $2 AND id = ANY($3::text[])`,
        [instance, type, ids],
      );
      for (const row of result.rows) out[row.id] = readKey(type, row.value);
      return out;
    },
    async set(data: SignalDataSet) {
      const upserts = { types: [] as string[], ids: [] as string[], values: [] as string[] };
      const deletes = { types: [] as string[], ids: [] as string[] };
      for (const [type, entries] of Object.entries(data)) {
        for (const [id, value] of Object.entries(entries ?? {})) {
          // Baileys' contract: null (or undefined) means "delete this key".
          if (value === null || value === undefined) {
            deletes.types.push(type);
            deletes.ids.push(id);
          } else {
            upserts.types.push(type);
            upserts.ids.push(id);
            upserts.values.push(serialise(value));
          }
        }
      }
      if (upserts.ids.length === 0 && deletes.ids.length === 0) return;
      // One transaction per set: Baileys writes a session's pre-keys and sessions together, and a
      // half-applied set could leave a signal session pointing at a pre-key that is not there.
      await db.transaction(async (tx) => {
        if (upserts.ids.length > 0) {
          await tx.query(
            `INSERT INTO :SCHEMA.wa_auth_keys (instance, type, id, value)
             SELECT $1, t, i, v::jsonb FROM unnest($2::text[], $3::text[], $4::text[]) AS u(t, i, v)
             ON CONFLICT (instance, type, id) DO UPDATE SET value = EXCLUDED.value`,
            [instance, upserts.types, upserts.ids, upserts.values],
          );
        }
        if (deletes.ids.length > 0) {
          await tx.query(
            `DELETE FROM :SCHEMA.wa_auth_keys k USING unnest($2::text[], $3::text[]) AS d(t, i)
             WHERE k.instance = $1 AND k.type = d.t AND k.id = d.i`,
            [instance, deletes.types, deletes.ids],
          );
        }
      });
    },
    async clear() {
      await db.query(`DELETE FROM :SCHEMA.wa_auth_keys WHERE instance = $1`, [instance]);
    },
  };
}

function readKey<T extends keyof SignalDataTypeMap>(type: T, text: string): SignalDataTypeMap[T] {
  const value = revive(text);
  // App-state keys are protobuf messages; Baileys calls methods on them, so a plain object is not enough.
  if (type === 'app-state-sync-key' && isRecord(value))
    return proto.Message.AppStateSyncKeyData.fromObject(value) as unknown as SignalDataTypeMap[T];
  return value as SignalDataTypeMap[T];
}
