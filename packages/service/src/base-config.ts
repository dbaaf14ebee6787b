import { databaseEnv, httpEnv, logEnv, natsEnv, shutdownEnv, tracingEnv } from '@switchyard/runtime';

/** The variables every service reads; a service spreads this and adds its own. */
export function serviceEnv(defaultPort: number) {
  return { ...natsEnv, ...databaseEnv, ...httpEnv(defaultPort), ...logEnv, ...tracingEnv, ...shutdownEnv };
}

/** The parsed shape of `serviceEnv` — what `startService` needs from any service's config. */
export interface BaseServiceConfig {
  NATS_URL: string;
  NATS_CONNECT_TIMEOUT: number;
  NATS_CREDS?: string | undefined;
  DATABASE_URL: string;
  DATABASE_POOL_MAX: number;
  HTTP_HOST: string;
  HTTP_PORT: number;
  LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  LOG_PRETTY: boolean;
  OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  OTEL_SERVICE_NAME?: string | undefined;
  SHUTDOWN_TIMEOUT: number;
}
