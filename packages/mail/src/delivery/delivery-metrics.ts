import type { Metrics } from '@palabre/core';

/**
 * `palabre_mail_deliveries_total`: recipients (accounts for local mail) by the path they took. The
 * intake counts mail filed at once, deferred (full mailbox) or queued for other domains; the queue
 * worker counts what it delivered, deferred again or bounced.
 */
export function deliveryCounter(metrics: Metrics) {
  return metrics.counter({
    name: 'palabre_mail_deliveries_total',
    help: 'Mail deliveries by path (intake, queue) and result, counted per recipient.',
    labels: ['via', 'result'],
  });
}

/** `palabre_mail_filter_verdicts_total`: what rspamd and clamd decided, by the listener the message came through. */
export function filterVerdicts(metrics: Metrics): (filter: string, action: string, role: 'mx' | 'submission') => void {
  const verdicts = metrics.counter({
    name: 'palabre_mail_filter_verdicts_total',
    help: 'Decisions of the mail filters (rspamd, clamd) by listener role, filter and action.',
    labels: ['role', 'filter', 'action'],
  });
  return (filter, action, role) => verdicts.inc({ role, filter, action });
}
