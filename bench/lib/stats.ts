/** Nearest-rank percentile of unsorted samples; NaN for no samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export interface LatencySummary {
  count: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
}

export function summarizeLatencies(samplesMs: readonly number[]): LatencySummary {
  return {
    count: samplesMs.length,
    p50_ms: round(percentile(samplesMs, 50)),
    p95_ms: round(percentile(samplesMs, 95)),
    p99_ms: round(percentile(samplesMs, 99)),
    max_ms: round(samplesMs.length ? Math.max(...samplesMs) : Number.NaN),
  };
}

export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** `measured / ceiling`, the figure every benchmark reports beside its raw ceiling. */
export function ratio(measured: number, ceiling: number): number {
  return ceiling > 0 ? round(measured / ceiling) : Number.NaN;
}

/** µs of this process's CPU (every thread) since `from` (a `process.cpuUsage()`), per `count`. */
export function cpuUsPer(from: NodeJS.CpuUsage, count: number): number {
  const used = process.cpuUsage(from);
  return round((used.user + used.system) / count, 1);
}
