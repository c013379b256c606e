import type { ConnectRouter } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import type { Logger } from "pino";
import { requestOriginKey } from "./request-origin.js";

// A request body that is not the method's protobuf message is the caller's fault, but connect-es
// (2.1) decides otherwise: its binary serialization throws Code.Internal ("parse binary: …"),
// before any interceptor runs, so the call is neither logged nor answered as a bad request. (gRPC's
// own libraries answer INTERNAL too; a caller's bad bytes must not read as our fault, page anyone,
// or be retried.) This wraps each handler the router made and, only when the answer is that
// error, logs one line and turns it into INVALID_ARGUMENT, in each protocol's own place for it:
// Connect unary, the JSON error body; gRPC, the trailers; gRPC-Web and Connect streaming, the
// last frame. Malformed JSON already answers InvalidArgument, with a message of its own.

const parsePrefix = "parse binary:";
// The frame flags that mark the end of a stream (gRPC-Web trailers, Connect EndStreamResponse).
const grpcWebTrailerFlag = 0x80;
const connectEndStreamFlag = 0x02;

/** ParseFailure is what is logged about a request whose message does not parse: never its bytes. */
interface ParseFailure {
  rpc: string;
  protocol: string;
  reason: string;
  req: UniversalServerRequest;
}

/**
 * withParseErrorAnswers returns `routes` with every handler it registers answering a protobuf
 * request body that does not parse with INVALID_ARGUMENT, logged once (`rpc`, code, reason) at info.
 */
export function withParseErrorAnswers(routes: (router: ConnectRouter) => void, logger: Logger): (router: ConnectRouter) => void {
  const log = ({ rpc, protocol, reason, req }: ParseFailure) => {
    const origin = req.contextValues?.get(requestOriginKey);
    logger.info({ rpc, code: "InvalidArgument", protocol, reason, requestId: origin?.requestId, sourceAddress: origin?.sourceAddress }, "rpc");
  };
  return (router) => {
    routes(router);
    // The adapter reads router.handlers after routes() returns: replacing them here is what it serves.
    router.handlers.forEach((handler, i) => (router.handlers[i] = wrap(handler, log)));
  };
}

function wrap(handler: UniversalHandler, log: (failure: ParseFailure) => void): UniversalHandler {
  const rpc = `/${handler.service.typeName}/${handler.method.name}`;
  const wrapped = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    const res = await handler(req);
    const failed = (protocol: string, reason: string) => log({ rpc, protocol, reason, req });
    const type = req.header.get("content-type") ?? "";
    // Connect unary (POST or GET) answers an error as a whole JSON body; only its 500s can be ours.
    if (res.status === 500 && res.body !== undefined) return connectUnary(res, failed);
    if (res.body === undefined) return res;
    if (type.startsWith("application/grpc-web")) return { ...res, body: lastFrame(res.body, grpcWebTrailerFlag, (frame) => grpcWebTrailer(frame, failed)) };
    if (type.startsWith("application/grpc")) return { ...res, body: grpcTrailer(res, failed) };
    if (type.startsWith("application/connect+")) return { ...res, body: lastFrame(res.body, connectEndStreamFlag, (frame) => connectEndStream(frame, failed)) };
    return res;
  };
  return Object.assign(wrapped, handler);
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** asInvalidArgument returns a Connect error JSON with code invalid_argument, or undefined when it is not a parse error. */
function asInvalidArgument(error: unknown, protocol: string, failed: (protocol: string, reason: string) => void): unknown {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== "internal" || typeof message !== "string" || !message.startsWith(parsePrefix)) return undefined;
  failed(protocol, message);
  return { ...(error as object), code: "invalid_argument" };
}

async function connectUnary(res: UniversalServerResponse, failed: (protocol: string, reason: string) => void): Promise<UniversalServerResponse> {
  const bytes = await collect(res.body as AsyncIterable<Uint8Array>);
  const unchanged = { ...res, body: oneChunk(bytes) };
  let error: unknown;
  try {
    error = JSON.parse(bytes.toString("utf8"));
  } catch {
    return unchanged;
  }
  const answer = asInvalidArgument(error, "connect", failed);
  if (answer === undefined) return unchanged;
  const body = Buffer.from(JSON.stringify(answer));
  const header = new Headers(res.header);
  header.set("content-length", String(body.byteLength));
  // Connect's HTTP status for invalid_argument (connect-errors.ts maps it the same way for REST).
  return { ...res, status: 400, header, body: oneChunk(body) };
}

async function* oneChunk(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

async function* grpcTrailer(res: UniversalServerResponse, failed: (protocol: string, reason: string) => void): AsyncIterable<Uint8Array> {
  yield* res.body as AsyncIterable<Uint8Array>;
  // The adapter writes the trailers once the body is done: the status is final now.
  const trailer = res.trailer;
  const message = decodeURIComponent(trailer?.get("grpc-message") ?? "");
  if (trailer?.get("grpc-status") === "13" && message.startsWith(parsePrefix)) {
    failed("grpc", message);
    trailer.set("grpc-status", "3");
  }
}

/** lastFrame passes every chunk through, and the one that is the stream's end frame (flag `flag`) through `rewrite`. */
async function* lastFrame(body: AsyncIterable<Uint8Array>, flag: number, rewrite: (data: Buffer) => Buffer | undefined): AsyncIterable<Uint8Array> {
  // connect-es yields one whole envelope per chunk (transformJoinEnvelopes); a compressed end frame (flag | 1) is left alone.
  for await (const chunk of body) {
    const data = chunk.byteLength >= 5 && chunk[0] === flag ? Buffer.from(chunk.buffer, chunk.byteOffset + 5, chunk.byteLength - 5) : undefined;
    const rewritten = data === undefined ? undefined : rewrite(data);
    yield rewritten === undefined ? chunk : envelope(flag, rewritten);
  }
}

function envelope(flag: number, data: Buffer): Uint8Array {
  const head = Buffer.alloc(5);
  head.writeUInt8(flag, 0);
  head.writeUInt32BE(data.byteLength, 1);
  return Buffer.concat([head, data]);
}

function grpcWebTrailer(data: Buffer, failed: (protocol: string, reason: string) => void): Buffer | undefined {
  const text = data.toString("latin1");
  const message = decodeURIComponent(/^grpc-message: ?(.*?)\r?$/im.exec(text)?.[1] ?? "");
  if (!/^grpc-status: ?13\r?$/im.test(text) || !message.startsWith(parsePrefix)) return undefined;
  failed("grpc-web", message);
  return Buffer.from(text.replace(/^grpc-status: ?13(\r?)$/im, "grpc-status: 3$1"), "latin1");
}

function connectEndStream(data: Buffer, failed: (protocol: string, reason: string) => void): Buffer | undefined {
  let end: { error?: unknown };
  try {
    end = JSON.parse(data.toString("utf8")) as { error?: unknown };
  } catch {
    return undefined;
  }
  const error = asInvalidArgument(end.error, "connect", failed);
  return error === undefined ? undefined : Buffer.from(JSON.stringify({ ...end, error }));
}
