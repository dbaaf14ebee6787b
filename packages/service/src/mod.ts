/**
 * @switchyard/service — the start/stop skeleton every Switchyard service shares: config base,
 * connections (Postgres, NATS, streams), the HTTP surface, per-tenant consumers and ordered
 * shutdown. A service supplies only its own wiring.
 */
export { serviceEnv, type BaseServiceConfig } from './base-config.ts';
export { startService, type ServiceContext, type ServiceDefinition, type RunningService } from './start-service.ts';
