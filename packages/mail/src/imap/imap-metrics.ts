import { LATENCY_BUCKETS, noopMetrics, type Metrics } from '@palabre/core';

export interface ImapMeasures {
  /** A command answered: its name (a registered one, never the client's spelling), OK/NO/BAD, seconds. */
  command(name: string, status: 'OK' | 'NO' | 'BAD' | 'BYE', seconds: number): void;
  connections: { inc(): void; dec(): void };
  idle: { inc(): void; dec(): void };
}

/** What IMAP measures: commands and their latency, open connections and those in IDLE. */
export function imapMeasures(metrics: Metrics = noopMetrics): ImapMeasures {
  const commands = metrics.counter({ name: 'palabre_imap_commands_total', help: 'IMAP commands by name and status.', labels: ['command', 'status'] });
  const latency = metrics.histogram({
    name: 'palabre_imap_command_duration_seconds',
    help: 'Time from an IMAP command to its tagged answer (IDLE: its whole length is not counted).',
    labels: ['command'],
    buckets: LATENCY_BUCKETS,
  });
  const open = metrics.gauge({ name: 'palabre_imap_connections', help: 'Open IMAP connections.' });
  const idling = metrics.gauge({ name: 'palabre_imap_idle_connections', help: 'IMAP connections in IDLE.' });
  return {
    command(name, status, seconds) {
      commands.inc({ command: name, status });
      if (name !== 'IDLE') latency.observe({ command: name }, seconds);
    },
    connections: { inc: () => open.inc(), dec: () => open.dec() },
    idle: { inc: () => idling.inc(), dec: () => idling.dec() },
  };
}
