// Reads Prometheus text exposition (the subset prom-client writes) for the telemetry tests.

/** Sample is one line of a scrape: a metric name, its labels and its value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** parseSamples reads every sample line of a scrape; comments (# HELP, # TYPE) are skipped. */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key as string] = value as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** valueOf sums the samples named `name` whose labels include `labels`. */
export function valueOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

/** scrape GETs `url`'s /metrics and parses it; it throws unless 200 with Prometheus' text type. */
export async function scrape(url: string): Promise<{ samples: Sample[]; text: string }> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status} ${text}`);
  if (!(res.headers.get("content-type") ?? "").startsWith("text/plain; version=0.0.4")) throw new Error(`content-type ${res.headers.get("content-type")}`);
  return { samples: parseSamples(text), text };
}
