import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { announceFailure, announceReady, serveParent } from "../ipc.js";

// The ceiling: a plain node:http server answering 200 `{}`, nothing else on the request path.

const body = Buffer.from("{}");
const server = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.on("error", announceFailure);
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  serveParent({}, () => new Promise<void>((resolve) => server.close(() => resolve())));
  announceReady({ url: `http://127.0.0.1:${port}` });
});
