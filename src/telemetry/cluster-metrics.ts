import cluster from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";

// With M2M_WORKERS > 1 a scrape must see the whole service, not the one worker the kernel handed
// the connection to. prom-client's AggregatorRegistry asks every worker for its registry over the
// cluster's IPC channel and sums them (gauges such as a key's age are averaged or taken once, as
// prom-client's aggregators say). Only the primary can ask, so a worker that is scraped on the
// service port asks the primary, which asks them all: every scrape answers for every worker.

const requestType = "m2m-auth:metrics-request";
const answerType = "m2m-auth:metrics-answer";
// prom-client gives up on a silent worker after 5 s; the worker waits a little longer for that answer.
const askTimeoutMs = 6_000;

interface Answer {
  type: typeof answerType;
  id: number;
  text?: string;
  error?: string;
}

function isType(message: unknown, type: string): message is { type: string; id: number } {
  return (
    typeof message === "object" && message !== null && (message as { type?: unknown }).type === type && typeof (message as { id?: unknown }).id === "number"
  );
}

/** ClusterScrape renders every worker's metrics as one Prometheus text. */
export interface ClusterScrape {
  readonly scrape: () => Promise<string>;
  readonly contentType: string;
}

/** aggregateWorkers (in the primary) returns the scrape of every worker, and answers workers that ask for it. */
export function aggregateWorkers(): ClusterScrape {
  const aggregator = new AggregatorRegistry();
  const scrape = () => aggregator.clusterMetrics();
  cluster.on("message", (worker, message: unknown) => {
    if (!isType(message, requestType)) return;
    const { id } = message;
    const reply = (answer: Omit<Answer, "type" | "id">) => {
      // A worker that exited meanwhile has no one to read the answer.
      if (worker.isConnected()) worker.send({ type: answerType, id, ...answer });
    };
    scrape().then(
      (text) => reply({ text }),
      (err: unknown) => reply({ error: err instanceof Error ? err.message : String(err) }),
    );
  });
  return { scrape, contentType: aggregator.contentType };
}

/**
 * offerToPrimary (in a worker) answers the primary's aggregation with `registry`, and returns the
 * scrape a worker serves on the service port: every worker's, asked of the primary.
 */
export function offerToPrimary(registry: Registry): () => Promise<string> {
  // Constructing one installs prom-client's answering listener in this worker.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  const pending = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  let next = 0;
  process.on("message", (message: unknown) => {
    if (!isType(message, answerType)) return;
    const waiting = pending.get(message.id);
    if (waiting === undefined) return;
    pending.delete(message.id);
    clearTimeout(waiting.timer);
    const { text, error } = message as Answer;
    if (text !== undefined) waiting.resolve(text);
    else waiting.reject(new Error(`metrics aggregation failed: ${error ?? "no answer"}`));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error("metrics aggregation: the primary did not answer"));
      }, askTimeoutMs);
      pending.set(id, { resolve, reject, timer });
      process.send?.({ type: requestType, id });
    });
}
