/**
 * @switchyard/db — Postgres access for every service: pools whose search_path finds no tenant
 * table by accident, tenant-scoped handles that cannot forget their schema, numbered migrations
 * for the control and tenant schemas, and the control-plane records (tenants, API keys, webhook
 * endpoints) plus exhausted events.
 */
export type { Principal, ApiKeyRole } from './principal.ts';
export {
  createPool,
  ensureDatabase,
  checkPostgres,
  pingPostgres,
  type PoolOptions,
  type Pool,
  type PoolClient,
} from './pool.ts';
export { CONTROL_SCHEMA, quoteIdent, tenantSchemaName } from './identifiers.ts';
export { withTransaction } from './transaction.ts';
export {
  migrateControl,
  migrateTenant,
  loadMigrations,
  type Migration,
  type MigrationSet,
  type MigrateResult,
} from './migrate.ts';
export { forTenant, type TenantDb, type TenantTx, type TenantQueryable } from './tenant-db.ts';
export { queryPrepared, PREPARED_PER_CONNECTION } from './prepared.ts';
export { Coalescer } from './coalescer.ts';
export { retainedFrom } from './retention.ts';
export {
  recordMediaPurge,
  pendingMediaPurges,
  getMediaPurge,
  listMediaPurges,
  mediaPurgeBacklog,
  finishMediaPurge,
  failMediaPurge,
  forgetMediaPurges,
  type MediaPurge,
} from './media-purges.ts';
export {
  provisionTenant,
  getTenant,
  listTenants,
  deleteTenant,
  setRetentionDays,
  migrateAllTenants,
  type Tenant,
} from './tenants.ts';
export {
  createApiKey,
  verifyApiKey,
  revokeApiKey,
  listApiKeys,
  type KeyRole,
  type CreateApiKeyInput,
  type CreatedApiKey,
  type ApiKeyInfo,
} from './api-keys.ts';
export {
  addEndpoint,
  listEndpoints,
  getEndpoint,
  removeEndpoint,
  setEndpointEnabled,
  type Endpoint,
  type AddEndpointInput,
} from './endpoints.ts';
export { updateEndpoint, rotateEndpointSecret, signingSecrets, RESERVED_ENDPOINT_HEADERS, type UpdateEndpointInput } from './endpoints.ts';
export {
  recordExhausted,
  listExhausted,
  getExhausted,
  setExhaustedStatus,
  dlqKey,
  type ExhaustedEvent,
  type ExhaustedStatus,
  type ListExhaustedOptions,
} from './exhausted.ts';
export { recordNatsUser, natsUsersOf, markNatsUsersRevoked, type NatsUser } from './nats-users.ts';
export { getMediaJob, listMediaJobs, MEDIA_JOB_STATUSES, type ListMediaJobsOptions, type MediaJobRecord, type MediaJobStatus } from './media-jobs.ts';
export {
  InvalidInputError,
  TenantNotFoundError,
  UnscopedQueryError,
  RowShapeError,
  MigrationError,
  pgErrorCode,
  isConnectionError,
} from './errors.ts';
