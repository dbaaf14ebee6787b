/**
 * Progress for long runs, on stderr so JSON on stdout stays clean: one rewriting line on a
 * terminal, a line per 10% otherwise (CI logs).
 */
export interface Progress {
  update(done: number): void;
  done(): void;
}

export function progress(label: string, total: number): Progress {
  const tty = Boolean(process.stderr.isTTY);
  const started = Date.now();
  let lastDecile = -1;
  const line = (done: number) => {
    const seconds = (Date.now() - started) / 1000;
    const rate = seconds > 0 ? Math.round(done / seconds) : 0;
    return `${label}: ${done}/${total} (${Math.floor((done / Math.max(total, 1)) * 100)}%, ${rate}/s, ${seconds.toFixed(1)}s)`;
  };
  return {
    update(done) {
      if (tty) process.stderr.write(`\r${line(done)}`);
      else {
        const decile = Math.floor((done / Math.max(total, 1)) * 10);
        if (decile > lastDecile) {
          lastDecile = decile;
          process.stderr.write(`${line(done)}\n`);
        }
      }
    },
    done() {
      if (tty) process.stderr.write(`\r${line(total)}\n`);
      else if (lastDecile < 10) process.stderr.write(`${line(total)}\n`);
    },
  };
}
