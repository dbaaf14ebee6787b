/**
 * The benchmark kit: `pnpm bench <name>` runs bench/<name>.ts, which calls `runBench` with its
 * measurements. Every comparison with a ceiling measured in the same run is a `*_ratio` field.
 */
export { parseBenchArgs, numberArg, stringArg, type BenchArgs } from './args.ts';
export { runBench, renderTable, type BenchContext, type BenchResult } from './report.ts';
export { progress, type Progress } from './progress.ts';
export { cpuUsPer, percentile, summarizeLatencies, ratio, round, type LatencySummary } from './stats.ts';
export { onThrowawayStream, rawJetStreamAtomicPublishRate, rawJetStreamPublishRate, rawPostgresInsertRate, rawHttpPostRate, samplePayload, type RateFigure, type HttpFigure } from './ceilings.ts';
export { startReceiverInWorker, type ThreadedReceiver } from './receiver.ts';
