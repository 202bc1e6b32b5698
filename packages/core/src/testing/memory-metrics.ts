import type { Gauge, GaugeDefinition, MetricDefinition, MetricLabels, Metrics } from '../ports/metrics.js';

export interface MemoryMetrics extends Metrics {
  /** Current value of a counter or gauge series (0 if never touched); for a histogram, its count. */
  value(name: string, labels?: MetricLabels): number;
  /** Sum of every series of `name` whose labels include `labels`. */
  total(name: string, labels?: MetricLabels): number;
  /** Run the gauges' collect callbacks, as a scrape does. */
  collect(): Promise<void>;
}

const key = (labels: MetricLabels = {}) =>
  JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  );

/** Keeps every series in memory, for tests of what a package measures. */
export function memoryMetrics(): MemoryMetrics {
  const series = new Map<string, Map<string, { labels: MetricLabels; value: number }>>();
  const kinds = new Map<string, string>();
  const collectors: (() => void | Promise<void>)[] = [];
  const of = (definition: MetricDefinition, kind: string) => {
    const known = kinds.get(definition.name);
    if (known && known !== kind) throw new Error(`metric ${definition.name} is a ${known}, not a ${kind}`);
    kinds.set(definition.name, kind);
    let s = series.get(definition.name);
    if (!s) series.set(definition.name, (s = new Map()));
    const add = (labels: MetricLabels | undefined, delta: number, replace = false) => {
      const k = key(labels);
      const entry = s.get(k) ?? { labels: labels ?? {}, value: 0 };
      entry.value = replace ? delta : entry.value + delta;
      s.set(k, entry);
    };
    return add;
  };
  return {
    counter(definition) {
      const add = of(definition, 'counter');
      return { inc: (labels, value = 1) => add(labels, value) };
    },
    gauge(definition: GaugeDefinition) {
      const add = of(definition, 'gauge');
      const gauge: Gauge = {
        set: (labels, value) => add(labels, value, true),
        inc: (labels, value = 1) => add(labels, value),
        dec: (labels, value = 1) => add(labels, -value),
      };
      if (definition.collect) collectors.push(() => definition.collect!(gauge));
      return gauge;
    },
    histogram(definition) {
      const add = of(definition, 'histogram');
      return { observe: (labels) => add(labels, 1) };
    },
    value(name, labels) {
      return series.get(name)?.get(key(labels))?.value ?? 0;
    },
    total(name, labels = {}) {
      let sum = 0;
      for (const entry of series.get(name)?.values() ?? []) {
        if (Object.entries(labels).every(([k, v]) => entry.labels[k] === v)) sum += entry.value;
      }
      return sum;
    },
    async collect() {
      for (const c of collectors) await c();
    },
  };
}
