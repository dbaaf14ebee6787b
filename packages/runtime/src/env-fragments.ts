import { envBool, envDuration, envEnum, envInt, envString, envUrl } from './env-helpers.ts';

// Plain shape objects, not z.object()s, so each service spreads the ones it needs into its own
// schema: z.object({ ...natsEnv, ...databaseEnv, ...httpEnv(8082), MY_VAR: envInt() }).

export const natsEnv = {
  /** Where the JetStream-enabled NATS server listens. */
  NATS_URL: envUrl(['nats', 'tls', 'ws', 'wss'], 'nats://127.0.0.1:4222').describe(
    'NATS server URL (JetStream enabled)',
  ),
  /** How long startup waits for NATS before failing with a DependencyUnreachableError. */
  NATS_CONNECT_TIMEOUT: envDuration('10s').describe('How long startup waits to connect to NATS'),
  /** A `.creds` file (user JWT + seed) when NATS runs with JWT auth (deploy/nats); unset: no auth. */
  NATS_CREDS: envString().optional().describe('Path to the NATS user credentials (.creds) file; unset connects without auth'),
};

export const databaseEnv = {
  /** Postgres connection string; the control schema and the tenant schemas live in this database. */
  DATABASE_URL: envUrl(['postgres', 'postgresql'], 'postgres://postgres@127.0.0.1:5432/switchyard').describe(
    'Postgres connection URL',
  ),
  /** Upper bound on pooled connections per process; size it against Postgres max_connections. */
  DATABASE_POOL_MAX: envInt({ min: 1, max: 1000, default: 10 }).describe('Maximum connections in the Postgres pool'),
};

export function httpEnv(defaultPort: number) {
  return {
    /** Interface the health/metrics/API server binds to. */
    HTTP_HOST: envString('0.0.0.0').describe('Interface the HTTP server binds to'),
    /** Port of the health/metrics/API server; 0 picks a free one. */
    HTTP_PORT: envInt({ min: 0, max: 65535, default: defaultPort }).describe('Port the HTTP server listens on'),
  };
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const logEnv = {
  /** Minimum level written; `debug` includes per-request logs. */
  LOG_LEVEL: envEnum(LOG_LEVELS, 'info').describe('Minimum log level: fatal, error, warn, info, debug or trace'),
  /** Human-readable logs for local development; keep false in production (JSON lines). */
  LOG_PRETTY: envBool(false).describe('Pretty-print logs instead of JSON lines (development only)'),
};

export const tracingEnv = {
  /** OTLP/HTTP collector base URL (`/v1/traces` is appended). Tracing is OFF unless this is set. */
  OTEL_EXPORTER_OTLP_ENDPOINT: envUrl(['http', 'https'])
    .optional()
    .describe('OTLP/HTTP collector base URL; tracing is off unless set'),
  /** Overrides the service name reported in traces. */
  OTEL_SERVICE_NAME: envString().optional().describe('Service name reported in traces (defaults to the service)'),
};

export const shutdownEnv = {
  /** After a SIGTERM, how long to drain before giving up; keep below the pod's terminationGracePeriodSeconds. */
  SHUTDOWN_TIMEOUT: envDuration('30s').describe('Maximum time to drain and close on SIGTERM'),
};
