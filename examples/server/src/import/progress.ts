import type { ImportProgress } from './csv-accounts.js';

/**
 * A progress bar on a terminal (redrawn at most 10 times a second), or a plain line every 10 % when the
 * output is a file or a pipe. `summary` words what is done besides the count (shared by import and migrate).
 */
export function progressBar(total: number, unit: string, write: (text: string) => void, interactive: boolean): (done: number, summary: string) => void {
  const started = Date.now();
  let lastDraw = 0;
  let lastDecile = -1;
  return (done, detail) => {
    const now = Date.now();
    const fraction = total > 0 ? Math.min(1, done / total) : 0;
    const rate = done / Math.max(0.001, (now - started) / 1000);
    const eta = rate > 0 && total > done ? Math.round((total - done) / rate) : 0;
    const summary = `${done.toLocaleString('en')}/${total.toLocaleString('en')} ${unit}  ${Math.round(rate).toLocaleString('en')} ${unit}/s  ETA ${eta}s  (${detail})`;
    if (interactive) {
      if (now - lastDraw < 100 && fraction < 1) return;
      lastDraw = now;
      const width = 30;
      const filled = Math.round(fraction * width);
      write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${summary}\u001b[K`);
    } else {
      const decile = Math.floor(fraction * 10);
      if (decile === lastDecile) return;
      lastDecile = decile;
      write(`${Math.round(fraction * 100)}% ${summary}\n`);
    }
  };
}

export function progressReporter(total: number, write: (text: string) => void, interactive: boolean): (p: ImportProgress) => void {
  const bar = progressBar(total, 'rows', write, interactive);
  return (p) => bar(p.rowsRead, `${p.created} new, ${p.updated} updated, ${p.unchanged} unchanged, ${p.failed} refused`);
}
