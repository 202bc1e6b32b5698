import { noopMetrics, type AuthFailureReason, type AuthProtocol, type Metrics } from '@palabre/core';

/** What authentication measures: refusals by protocol and reason (throttled included), and lockouts. */
export function authMeasures(metrics: Metrics = noopMetrics) {
  const failures = metrics.counter({
    name: 'palabre_auth_failures_total',
    help: 'Refused sign-ins by protocol and reason (throttled: refused without checking the password).',
    labels: ['protocol', 'reason'],
  });
  const lockouts = metrics.counter({
    name: 'palabre_auth_lockouts_total',
    help: 'Lockouts started (an address or unknown devices locked out of an account) by protocol.',
    labels: ['protocol'],
  });
  return {
    failure: (protocol: AuthProtocol, reason: AuthFailureReason) => failures.inc({ protocol, reason }),
    lockout: (protocol: AuthProtocol) => lockouts.inc({ protocol }),
  };
}
