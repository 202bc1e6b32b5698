import type { AuditLog, Clock, Logger, Metrics, Principal, RateLimitStore } from '@palabre/core';

/**
 * Hourly ceilings on what one account, and one hosted domain as a whole, may send through submission.
 * The domain ceiling is what stops a ring of compromised accounts that each stay under their own.
 */
export interface SendRateLimits {
  readonly messagesPerUserPerHour: number;
  readonly recipientsPerUserPerHour: number;
  readonly messagesPerDomainPerHour: number;
  readonly recipientsPerDomainPerHour: number;
}

export type SendRateScope = 'account' | 'domain';
export type SendRateUnit = 'messages' | 'recipients';

export interface SendRateExceeded {
  readonly scope: SendRateScope;
  readonly unit: SendRateUnit;
  readonly limit: number;
}

const WINDOW_MS = 3600_000;

/**
 * Counts submissions per account and per domain in the database (so every node counts into the same
 * window) and reports the first refusal of each window once: an audit event the security officers
 * query (`palabre audit --type mail.rate-limited`), a warning log line and a metric. An account that
 * suddenly sends hundreds of messages is the usual sign of a stolen password.
 */
export class SendRate {
  private readonly refused;

  constructor(
    private readonly options: {
      readonly store: RateLimitStore | null;
      readonly limits: SendRateLimits;
      readonly clock: Clock;
      readonly logger: Logger;
      readonly audit?: AuditLog | null;
      readonly metrics: Metrics;
    },
  ) {
    this.refused = options.metrics.counter({
      name: 'palabre_smtp_send_rate_refusals_total',
      help: 'Submissions refused because an account or a domain reached its hourly sending limit.',
      labels: ['scope', 'unit'],
    });
  }

  /**
   * Counts `cost` messages or recipients for the principal and its domain; the first ceiling crossed
   * is returned (the caller answers 451 4.7.1) and nothing more is counted for that submission.
   */
  async hit(principal: Principal, unit: SendRateUnit, cost: number, ip: string | null): Promise<SendRateExceeded | null> {
    const { store, limits } = this.options;
    if (!store) return null;
    const checks: Array<{ scope: SendRateScope; key: string; limit: number }> = [
      { scope: 'account', key: `smtp-${unit === 'messages' ? 'msg' : 'rcpt'}:${principal.accountId}`, limit: unit === 'messages' ? limits.messagesPerUserPerHour : limits.recipientsPerUserPerHour },
      { scope: 'domain', key: `smtp-domain-${unit === 'messages' ? 'msg' : 'rcpt'}:${principal.domainId}`, limit: unit === 'messages' ? limits.messagesPerDomainPerHour : limits.recipientsPerDomainPerHour },
    ];
    for (const { scope, key, limit } of checks) {
      if (limit <= 0) continue;
      const { count, resetAt } = await store.hit(key, cost, this.options.clock.now(), WINDOW_MS);
      if (count <= limit) continue;
      this.refused.inc({ scope, unit });
      // Counters are shared by the nodes: exactly one submission crosses the ceiling, so the report is
      // made once per window and not once per refused message.
      if (count - cost <= limit) await this.report(principal, { scope, unit, limit }, ip, resetAt);
      return { scope, unit, limit };
    }
    return null;
  }

  private async report(principal: Principal, exceeded: SendRateExceeded, ip: string | null, resetAt: Date): Promise<void> {
    const domain = principal.address.slice(principal.address.lastIndexOf('@') + 1);
    const detail = `${exceeded.scope === 'domain' ? `domain ${domain}` : 'account'}: more than ${exceeded.limit} ${exceeded.unit} per hour`;
    this.options.logger.warn(
      { account: principal.address, domain, scope: exceeded.scope, unit: exceeded.unit, limit: exceeded.limit, ip, until: resetAt.toISOString() },
      'smtp.send-rate-exceeded',
    );
    try {
      await this.options.audit?.record({ type: 'mail.rate-limited', actor: principal.address, ip, protocol: 'smtp', target: exceeded.scope === 'domain' ? domain : principal.address, detail });
    } catch (error) {
      this.options.logger.error({ err: error }, 'audit.write-failed');
    }
  }
}
