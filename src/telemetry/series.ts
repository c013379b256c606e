import type { Metric, Registry } from "prom-client";

// Counters and histograms for the hot paths, in the Prometheus text prom-client writes. prom-client's
// own re-check and re-hash the labels on every inc or observe (even through a bound child); here a
// series is an object resolved once per label set, and an observation is a few additions. They
// register in a prom-client Registry like any metric, so scrapes and the workers' aggregation
// (which sums series with equal labels) treat them alike.

/** CounterSeries is one counter series: its labels fixed. */
export interface CounterSeries {
  value: number;
}

/** HistogramSeries is one histogram series: its labels fixed. */
export interface HistogramSeries {
  observe(value: number): void;
}

interface Family<S> {
  /** series returns the series of `labels` (values in labelNames' order), made on first use. */
  series(...labels: string[]): S;
}

interface MetricDefinition {
  name: string;
  help: string;
  labelNames: readonly string[];
  registry: Registry;
}

function labelsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.map((name, i) => [name, values[i] ?? ""]));
}

function register(registry: Registry, name: string, help: string, type: string, values: () => object[]): void {
  const get = () => Promise.resolve({ name, help, type, aggregator: "sum", values: values() });
  registry.registerMetric({ name, help, type, aggregator: "sum", get } as unknown as Metric);
}

/** createCounterFamily registers a counter (`name` ends in `_total`) whose series count with `series(...).value++`. */
export function createCounterFamily(definition: MetricDefinition): Family<CounterSeries> {
  const all = new Map<string, { labels: Record<string, string>; series: CounterSeries }>();
  register(definition.registry, definition.name, definition.help, "counter", () =>
    [...all.values()].map(({ labels, series }) => ({ labels, value: series.value })),
  );
  return {
    series(...labels) {
      const key = labels.join("\u0000");
      let found = all.get(key);
      if (found === undefined) all.set(key, (found = { labels: labelsOf(definition.labelNames, labels), series: { value: 0 } }));
      return found.series;
    },
  };
}

/** createHistogramFamily registers a histogram with `buckets` (upper bounds, ascending; +Inf added). */
export function createHistogramFamily(definition: MetricDefinition & { buckets: readonly number[] }): Family<HistogramSeries> {
  const { name, buckets } = definition;
  const all = new Map<string, { labels: Record<string, string>; sum: number; count: number; counts: Float64Array; series: HistogramSeries }>();
  register(definition.registry, name, definition.help, "histogram", () =>
    [...all.values()].flatMap(({ labels, sum, count, counts }) => {
      let cumulative = 0;
      const rows: object[] = buckets.map((le, i) => ({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: (cumulative += counts[i] ?? 0) }));
      rows.push({ metricName: `${name}_bucket`, labels: { ...labels, le: "+Inf" }, value: count });
      rows.push({ metricName: `${name}_sum`, labels, value: sum }, { metricName: `${name}_count`, labels, value: count });
      return rows;
    }),
  );
  return {
    series(...labels) {
      const key = labels.join("\u0000");
      let found = all.get(key);
      if (found === undefined) {
        const entry = { labels: labelsOf(definition.labelNames, labels), sum: 0, count: 0, counts: new Float64Array(buckets.length) } as {
          labels: Record<string, string>;
          sum: number;
          count: number;
          counts: Float64Array;
          series: HistogramSeries;
        };
        entry.series = {
          observe(value) {
            entry.sum += value;
            entry.count++;
            // The first bucket that holds it; the scrape makes them cumulative.
            for (let i = 0; i < buckets.length; i++) {
              if (value <= (buckets[i] as number)) {
                entry.counts[i]!++;
                break;
              }
            }
          },
        };
        all.set(key, (found = entry));
      }
      return found.series;
    },
  };
}
