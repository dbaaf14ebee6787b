/** Human-readable output by default; `--json` for scripts. */
export interface Output {
  json: boolean;
}

export function print(out: Output, human: string, data: unknown): void {
  process.stdout.write(out.json ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`);
}

export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cell = (v: unknown): string => {
    if (v === null || v === undefined) return '-';
    if (v instanceof Date) return v.toISOString();
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return v.toString();
    return JSON.stringify(v);
  };
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(columns), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}
