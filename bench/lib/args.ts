/**
 * `pnpm bench <name> [--out file.json] [--key value …]`: flags after the name, as strings.
 * Each bench validates the ones it reads with `numberArg`/`stringArg`, so a typo fails loudly.
 */
export type BenchArgs = Map<string, string>;

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = new Map();
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (!flag.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(flag)} (flags look like --events 10000)`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) args.set(flag.slice(2), 'true');
    else {
      args.set(flag.slice(2), next);
      i++;
    }
  }
  return args;
}

export function numberArg(args: BenchArgs, name: string, fallback: number): number {
  const raw = args.get(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a non-negative number (got ${raw})`);
  return value;
}

export function stringArg(args: BenchArgs, name: string, fallback: string): string {
  return args.get(name) ?? fallback;
}
