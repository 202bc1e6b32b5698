import type { Metrics } from './ports/metrics.js';

/** What a scan was for: a message at SMTP time, or a file written to the drive. */
export type ScanUse = 'mail' | 'drive';

/**
 * `palabre_scanner_unavailable_total`: scans that could not be made (the scanner down, refusing or
 * silent past its timeout), by scanner, use and the fail mode then applied. Counted apart from the
 * verdicts: a fail-open accept looks like a clean message there, and it is what an operator alerts on.
 */
export function scannerUnavailableCounter(metrics: Metrics): (scanner: 'rspamd' | 'clamd', use: ScanUse, mode: 'open' | 'closed') => void {
  const counter = metrics.counter({
    name: 'palabre_scanner_unavailable_total',
    help: 'Scans that could not be made (scanner down or timed out), by scanner, use (mail, drive) and fail mode applied.',
    labels: ['scanner', 'use', 'mode'],
  });
  return (scanner, use, mode) => counter.inc({ scanner, use, mode });
}
