import client from 'prom-client';
import type {
  Counter,
  Gauge,
  GaugeDefinition,
  Histogram,
  HistogramDefinition,
  MetricDefinition,
  MetricLabels,
  Metrics,
} from '@palabre/core';
import { LATENCY_BUCKETS } from '@palabre/core';

/** Core's Metrics port on a prom-client registry, plus what the admin listener needs to expose it. */
export interface PrometheusMetrics extends Metrics {
  readonly registry: client.Registry;
  /** The exposition text (text/plain; version=0.0.4) of every series. */
  scrape(): Promise<string>;
  readonly contentType: string;
}

type Kind = 'counter' | 'gauge' | 'histogram';

/**
 * Every package measures through core's `Metrics` port; this is the one adapter the composed server
 * gives them. Asking twice for a name returns the same series (two SMTP listeners share theirs), and a
 * name asked for as another kind is a programming error. Process metrics (CPU, memory, event loop
 * lag, open descriptors) come from prom-client's defaults, prefixed `palabre_`.
 */
export function createPrometheusMetrics(options: { registry?: client.Registry; processMetrics?: boolean } = {}): PrometheusMetrics {
  const registry = options.registry ?? new client.Registry();
  if (options.processMetrics ?? true) client.collectDefaultMetrics({ register: registry, prefix: 'palabre_' });
  const known = new Map<string, { kind: Kind; series: Counter | Gauge | Histogram }>();
  const labelNames = (d: MetricDefinition) => [...(d.labels ?? [])];
  const reuse = <T extends Counter | Gauge | Histogram>(d: MetricDefinition, kind: Kind, make: () => T): T => {
    const found = known.get(d.name);
    if (found) {
      if (found.kind !== kind) throw new Error(`metric ${d.name} is a ${found.kind}, not a ${kind}`);
      return found.series as T;
    }
    const series = make();
    known.set(d.name, { kind, series });
    return series;
  };
  // prom-client rejects undefined label objects on some calls: `{}` is "no labels".
  const l = (labels: MetricLabels | undefined) => (labels ?? {}) as Record<string, string>;
  return {
    registry,
    contentType: registry.contentType,
    scrape: () => registry.metrics(),
    counter(d) {
      return reuse(d, 'counter', () => {
        const c = new client.Counter({
          name: d.name,
          help: d.help,
          labelNames: labelNames(d),
          registers: [registry],
          aggregator: d.aggregate ?? 'sum',
        });
        return { inc: (labels, value = 1) => c.inc(l(labels), value) };
      });
    },
    gauge(d: GaugeDefinition) {
      return reuse(d, 'gauge', () => {
        let wrapper: Gauge;
        const g = new client.Gauge({
          name: d.name,
          help: d.help,
          labelNames: labelNames(d),
          registers: [registry],
          aggregator: d.aggregate ?? 'sum',
          // A failing collect (the database away) leaves the last value, and the scrape still answers.
          ...(d.collect ? { collect: async () => void (await Promise.resolve(d.collect!(wrapper)).catch(() => undefined)) } : {}),
        });
        wrapper = {
          set: (labels, value) => g.set(l(labels), value),
          inc: (labels, value = 1) => g.inc(l(labels), value),
          dec: (labels, value = 1) => g.dec(l(labels), value),
        };
        return wrapper;
      });
    },
    histogram(d: HistogramDefinition) {
      return reuse(d, 'histogram', () => {
        const h = new client.Histogram({
          name: d.name,
          help: d.help,
          labelNames: labelNames(d),
          buckets: [...(d.buckets ?? LATENCY_BUCKETS)],
          registers: [registry],
          aggregator: d.aggregate ?? 'sum',
        });
        return { observe: (labels, value) => h.observe(l(labels), value) };
      });
    },
  };
}
