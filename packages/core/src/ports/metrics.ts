/** Label values of one series, e.g. `{ method: 'PROPFIND', status: '2xx' }`. */
export type MetricLabels = Readonly<Record<string, string>>;

/**
 * How a series is combined across worker processes when one listener scrapes them all: counters and
 * per-process gauges add up (`sum`); a gauge every worker reads from the shared database (queue depth)
 * is the same everywhere (`max`).
 */
export type MetricAggregation = 'sum' | 'max' | 'min' | 'first' | 'average';

export interface MetricDefinition {
  /** Prometheus name: `[a-z_][a-z0-9_]*`, with the unit as suffix (`_seconds`, `_bytes`, `_total`). */
  readonly name: string;
  readonly help: string;
  /**
   * Label names. Values must come from a small closed set (a method, a command, a listener): never
   * from client input as is, or an attacker creates series without bound.
   */
  readonly labels?: readonly string[];
  readonly aggregate?: MetricAggregation;
}

export interface Counter {
  inc(labels?: MetricLabels, value?: number): void;
}

export interface Gauge {
  set(labels: MetricLabels | undefined, value: number): void;
  inc(labels?: MetricLabels, value?: number): void;
  dec(labels?: MetricLabels, value?: number): void;
}

export interface Histogram {
  /** Seconds (or bytes): whatever the name's unit says. */
  observe(labels: MetricLabels | undefined, value: number): void;
}

export interface GaugeDefinition extends MetricDefinition {
  /** Read at scrape time (queue depth, stored bytes): set the gauge here. Errors leave the last value. */
  readonly collect?: (gauge: Gauge) => void | Promise<void>;
}

export interface HistogramDefinition extends MetricDefinition {
  /** Upper bounds; default: latency buckets from 5 ms to 60 s. */
  readonly buckets?: readonly number[];
}

/**
 * Counters, gauges and histograms by name and labels, for an operator's monitoring (Prometheus in the
 * composed server). Asking twice for the same name returns the same metric, so two listeners of one
 * protocol share their series. Protocol packages take it as an option; the default measures nothing.
 */
export interface Metrics {
  counter(definition: MetricDefinition): Counter;
  gauge(definition: GaugeDefinition): Gauge;
  histogram(definition: HistogramDefinition): Histogram;
}

/** Request latencies: 5 ms (a cached read) to a minute (a large upload's commit). */
export const LATENCY_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const noop = (): void => {};
const noopSeries = { inc: noop, dec: noop, set: noop, observe: noop };

/** Measures nothing: the default of every package. */
export const noopMetrics: Metrics = {
  counter: () => noopSeries,
  gauge: () => noopSeries,
  histogram: () => noopSeries,
};

/** Seconds since `start` (from `performance.now()`), for histograms. */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}
