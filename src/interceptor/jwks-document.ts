// Fetches one JWKS document (RFC 7517 §5) and checks it: HTTP 200, a bounded body, a JSON object
// with a `keys` array. Which of its keys may verify what is decided later, by the key resolver.
import type { JSONWebKeySet } from "jose";

/** MAX_JWKS_BYTES is the largest JWKS response body that is read (1 MiB); a larger one is refused. */
export const MAX_JWKS_BYTES = 1024 * 1024;

async function readCapped(res: Response): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length"));
  if (declared > MAX_JWKS_BYTES) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`JWKS response is larger than ${MAX_JWKS_BYTES} bytes`);
  }
  if (res.body === null) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_JWKS_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`JWKS response is larger than ${MAX_JWKS_BYTES} bytes`);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

async function download(url: string, fetchFn: typeof fetch, signal: AbortSignal): Promise<JSONWebKeySet> {
  // A redirect is not followed: the keys come from the configured URL only (RFC 8725 §3.10).
  const res = await fetchFn(url, {
    method: "GET",
    redirect: "manual",
    signal,
    headers: { accept: "application/jwk-set+json, application/json" },
  });
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`JWKS endpoint answered HTTP ${res.status}`);
  }
  const body = await readCapped(res);
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    throw new Error("JWKS response is not UTF-8 JSON");
  }
  // RFC 7517 §5: a JWK Set is a JSON object whose `keys` member is an array of JWKs.
  if (typeof doc !== "object" || doc === null || Array.isArray(doc) || !Array.isArray((doc as { keys?: unknown }).keys)) {
    throw new Error("JWKS response is not a JSON Web Key Set");
  }
  return doc as JSONWebKeySet;
}

/**
 * fetchJwks GETs the key set at `url` within `timeoutMs` (headers and body); it throws an Error
 * saying what was wrong. The deadline holds even for an injected fetch that ignores its signal.
 */
export function fetchJwks(url: string, fetchFn: typeof fetch, timeoutMs: number): Promise<JSONWebKeySet> {
  const signal = AbortSignal.timeout(timeoutMs);
  const deadline = new Promise<never>((_, reject) => {
    signal.addEventListener("abort", () => reject(new Error(`JWKS fetch timed out after ${timeoutMs} ms`)), { once: true });
  });
  return Promise.race([download(url, fetchFn, signal), deadline]);
}
