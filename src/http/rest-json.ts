import { fromJson, type DescMessage, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { toConnectError } from "../rpc/connect-errors.js";
import { mediaType, readBody, type HttpRequest } from "./exchange.js";

/** restJsonWrite writes messages as the seed shows them: snake_case, every field present. */
export const restJsonWrite = { useProtoFieldName: true, alwaysEmitImplicit: true } as const;

/** pathSegment decodes one URL path segment; a malformed one is `invalid_argument`. */
export function pathSegment(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new ConnectError("malformed path segment", Code.InvalidArgument);
  }
}

// RFC 8259 §8.1: JSON exchanged between systems is UTF-8; the BOM is not part of the text.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** readJsonObject reads an `application/json` body that must be a JSON object. */
export async function readJsonObject(req: HttpRequest): Promise<Record<string, JsonValue>> {
  if (mediaType(req) !== "application/json") throw new ConnectError("content type must be application/json", Code.InvalidArgument);
  // A body over the limit says so (not "invalid JSON"): its error maps like any domain error.
  const body = await readBody(req).catch((err: unknown) => {
    throw toConnectError(err);
  });
  let source: string;
  try {
    // Strict: Buffer#toString would replace invalid bytes with U+FFFD, and they would be stored.
    source = strictUtf8.decode(body);
  } catch {
    throw new ConnectError("request body is not valid UTF-8", Code.InvalidArgument);
  }
  let json: unknown;
  try {
    json = JSON.parse(source);
  } catch {
    throw new ConnectError("request body is not valid JSON", Code.InvalidArgument);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ConnectError("request body must be a JSON object", Code.InvalidArgument);
  }
  return json as Record<string, JsonValue>;
}

/** messageFromJson reads a message from JSON (snake_case or camelCase); unknown fields are refused. */
export function messageFromJson<Desc extends DescMessage>(schema: Desc, json: JsonValue): MessageShape<Desc> {
  try {
    return fromJson(schema, json);
  } catch (err) {
    throw new ConnectError(`request body: ${err instanceof Error ? err.message : "invalid"}`, Code.InvalidArgument);
  }
}
