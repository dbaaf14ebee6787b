/**
 * @switchyard/runtime — what every service process needs before it does its own work:
 * env config (zod fragments, one error listing every bad variable), a pino logger that redacts
 * message bodies and secrets, a per-service Prometheus registry, optional OpenTelemetry tracing,
 * typed errors with a retry classification, and an explicit start/drain/stop lifecycle.
 */
export { loadConfig, describeEnv, type LoadConfigOptions, type EnvVariableDoc } from './config.ts';
export {
  envValue,
  envInt,
  envBool,
  envDuration,
  envDurationList,
  envUrl,
  envEnum,
  envString,
  type EnvSchema,
  type EnvIntOptions,
} from './env-helpers.ts';
export {
  natsEnv,
  databaseEnv,
  httpEnv,
  logEnv,
  tracingEnv,
  shutdownEnv,
  LOG_LEVELS,
  type LogLevel,
} from './env-fragments.ts';
export { parseDuration, parseDurationList } from './duration.ts';
export { redactUrl } from './redact-url.ts';
export {
  createLogger,
  REDACT_PATHS,
  REDACTED,
  type CreateLoggerOptions,
  type LogContext,
  type Logger,
} from './logger.ts';
export { createMetricsRegistry, type Registry } from './metrics.ts';
export { LogThrottle, flushLogThrottles } from './log-throttle.ts';
export { runPeriodically, type Periodic } from './periodic.ts';
export { startTracing, tracer, type StartTracingOptions, type TracingHandle } from './tracing.ts';
export {
  SwitchyardError,
  ConfigError,
  DependencyUnreachableError,
  DEPENDENCY_START_HINT,
  isNonRetryable,
  type SwitchyardErrorOptions,
  type ConfigIssue,
  type Dependency,
  type DependencyUnreachableOptions,
} from './errors.ts';
export {
  Lifecycle,
  IllegalTransitionError,
  type LifecycleState,
  type LifecycleListener,
} from './lifecycle.ts';
export {
  ShutdownController,
  SHUTDOWN_PHASES,
  type ShutdownPhase,
  type ShutdownStep,
  type ShutdownReport,
  type ShutdownControllerOptions,
} from './shutdown.ts';
export {
  installSignalHandlers,
  type SignalSource,
  type Shutdownable,
  type SignalHandlerOptions,
} from './signals.ts';
export { runService, type RunServiceOptions, type ServiceHandle } from './main.ts';
