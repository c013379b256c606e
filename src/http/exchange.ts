import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { InvalidRequestError } from "../errors.js";

/** HttpRequest is a request over HTTP/1.1 or HTTP/2 (node's compatibility API). */
export type HttpRequest = IncomingMessage | Http2ServerRequest;

/** HttpResponse is a response over HTTP/1.1 or HTTP/2. */
export type HttpResponse = ServerResponse | Http2ServerResponse;

/** maxBodyBytes bounds every request body the HTTP routes read. */
export const maxBodyBytes = 64 * 1024;

/** readBody reads a request body up to `maxBodyBytes`; a larger one is `invalid_request`. */
export async function readBody(req: HttpRequest): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > maxBodyBytes) throw new InvalidRequestError(`request body larger than ${maxBodyBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) throw new InvalidRequestError(`request body larger than ${maxBodyBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** mediaType returns the lower-case media type of the request, without parameters. */
export function mediaType(req: HttpRequest): string {
  return (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/** sendJson writes a JSON response; extra headers are added to it. */
export function sendJson(res: HttpResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(payload)),
    ...headers,
  });
  res.end(payload);
}
