/**
 * @switchyard/testing — fixtures for tests that use real components: a private nats-server on a
 * free port, random tenant ids, throwaway Postgres schemas, and a local HTTP receiver.
 */
export * from './random.ts';
export * from './nats-server.ts';
export * from './postgres.ts';
export * from './http-receiver.ts';
export * from './service-env.ts';
export * from './read-stream.ts';
