import { LATENCY_BUCKETS, type Metrics } from '@palabre/core';
import { deliveryCounter } from '../delivery/delivery-metrics.js';

export type SmtpMeasuredCommand = 'connect' | 'auth' | 'mail' | 'rcpt' | 'data';

/** `2xx`, `4xx`, `5xx`: what an operator alerts on, with a fixed number of series. */
export const replyClass = (code: number): string => `${Math.floor(code / 100)}xx`;

/** What SMTP measures: commands by reply class, their latency, and what the intake delivered. */
export function smtpMetrics(metrics: Metrics, role: 'mx' | 'submission') {
  const commands = metrics.counter({
    name: 'palabre_smtp_commands_total',
    help: 'SMTP commands (and connections) by listener role and reply class.',
    labels: ['role', 'command', 'reply'],
  });
  const latency = metrics.histogram({
    name: 'palabre_smtp_command_duration_seconds',
    help: 'Time from an SMTP command (DATA: its final dot) to the reply.',
    labels: ['role', 'command'],
    buckets: LATENCY_BUCKETS,
  });
  const deliveries = deliveryCounter(metrics);
  return {
    command(command: SmtpMeasuredCommand, code: number, seconds?: number): void {
      commands.inc({ role, command, reply: replyClass(code) });
      if (seconds !== undefined) latency.observe({ role, command }, seconds);
    },
    delivered(result: { delivered: number; deferred: number; queued: number }): void {
      if (result.delivered) deliveries.inc({ via: 'intake', result: 'delivered' }, result.delivered);
      if (result.deferred) deliveries.inc({ via: 'intake', result: 'deferred' }, result.deferred);
      if (result.queued) deliveries.inc({ via: 'intake', result: 'queued' }, result.queued);
    },
  };
}
