/**
 * @switchyard/testing — fixtures for tests that use real components: a private nats-server on a
 * free port, an S3 server, random tenant ids, throwaway Postgres schemas, a local HTTP receiver, and a harness
 * that runs one real service against all of them.
 */
export * from './random.ts';
export * from './nats-server.ts';
export * from './s3-server.ts';
export * from './ports.ts';
export * from './postgres.ts';
export * from './scratch-database.ts';
export * from './http-receiver.ts';
export * from './service-env.ts';
export * from './read-stream.ts';
export * from './events.ts';
export * from './service-harness.ts';
