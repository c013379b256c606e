import { createServer, type Server } from "node:http";
import { metricsPath } from "../http/discovery-routes.js";
import { PortUnavailableError } from "../http/reserved-port.js";

// METRICS_PORT: GET /metrics on a port of its own, so the service port need not expose it (a
// scraper reaches a port a tenant does not). A plain node:http server with no other route.

/** MetricsServer is the listening METRICS_PORT server. */
export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/** MetricsServerOptions configures startMetricsServer. */
export interface MetricsServerOptions {
  host: string;
  port: number;
  /** scrape renders the metrics: this process's, or every worker's. */
  scrape: () => Promise<string>;
  contentType: string;
  /** onError hears of a failed scrape (answered 500, its cause logged, not sent). */
  onError?: (err: unknown) => void;
}

/** startMetricsServer listens on `port`; it rejects with "port N is in use" when another process has it. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== metricsPath) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: this port serves only GET /metrics\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("use GET\n");
      return;
    }
    options.scrape().then(
      (text) => res.writeHead(200, { "content-type": options.contentType, "cache-control": "no-store" }).end(req.method === "HEAD" ? "" : text),
      (err: unknown) => {
        options.onError?.(err);
        res.writeHead(500, { "content-type": "text/plain" }).end("metrics unavailable\n");
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(new PortUnavailableError(options.host, options.port, err.code ?? err.message, "METRICS_PORT")));
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
