/**
 * @switchyard/service — the start/stop skeleton every Switchyard service shares: config base,
 * connections (Postgres, NATS, streams), the HTTP surface, per-tenant consumers (optionally
 * gated by partition ownership across replicas) and ordered shutdown, plus the guard every EVENTS handler runs behind (valid envelope, own tenant). A
 * service supplies only its own wiring.
 */
export { serviceEnv, type BaseServiceConfig } from './base-config.ts';
export { handleEnvelopes, rejectMessage, type EnvelopeHandler } from './handle-envelopes.ts';
export { startService, type ServiceContext, type ServiceDefinition, type RunningService } from './start-service.ts';
