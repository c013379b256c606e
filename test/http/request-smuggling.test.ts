import * as net from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createM2MServer, type M2MServer } from "../../src/server.js";
import { createMemoryStore } from "../../src/store/memory-store.js";

// Request smuggling (RFC 9112 §6.3, §11.2): a request whose framing two parsers could read
// differently is refused and its connection closed, so nothing hidden in its body is ever read as
// a second request. Sent as raw bytes: no client library would send these.

const admin = { clientId: "smuggling-admin", clientSecret: "smuggling-admin-secret-0123456789abcdefghijklm" };
const form = `grant_type=client_credentials&client_id=${admin.clientId}&client_secret=${admin.clientSecret}`;
const hidden = "GET /api/v1/organizations/acme/clients HTTP/1.1\r\nHost: x\r\n\r\n";

let server: M2MServer;
let port: number;

beforeAll(async () => {
  server = await createM2MServer({
    host: "127.0.0.1",
    port: 0,
    issuer: "http://m2m-auth.test",
    signingAlg: "ES256",
    admin,
    store: createMemoryStore(),
    logger: pino({ level: "silent" }),
  });
  ({ port } = await server.listen());
});
afterAll(() => server.close());

/** exchange writes raw bytes and returns everything the server sent until it closed the connection (or 2 s passed). */
function exchange(bytes: string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    const timer = setTimeout(() => (socket.destroy(), resolve({ text, closed: false })), 2000);
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("error", () => {});
    socket.on("close", () => (clearTimeout(timer), resolve({ text, closed: true })));
    socket.end(bytes);
  });
}

const statuses = (text: string) => [...text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));

describe("request smuggling", () => {
  it("answers a well-framed token request (the baseline the attacks below are variants of)", async () => {
    const { text } = await exchange(
      `POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\nConnection: close\r\n\r\n${form}`,
    );
    expect(statuses(text)).toEqual([200]);
  });

  it("refuses Content-Length together with Transfer-Encoding: chunked, and reads no hidden request", async () => {
    const body = `0\r\n\r\n${hidden}`;
    const { text, closed } = await exchange(
      `POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
    );
    expect(statuses(text)).toEqual([400]);
    expect(closed).toBe(true);
  });

  it("refuses two different Content-Length headers", async () => {
    const { text, closed } = await exchange(`POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 60\r\n\r\nhello${hidden}`);
    expect(statuses(text)).toEqual([400]);
    expect(closed).toBe(true);
  });

  it("refuses a Transfer-Encoding other than chunked last, and an obfuscated one", async () => {
    for (const te of ["chunked, identity", "xchunked", " chunked\r\n\t, identity"]) {
      const { text, closed } = await exchange(`POST /oauth/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ${te}\r\n\r\n0\r\n\r\n${hidden}`);
      expect(statuses(text), te).toEqual([400]);
      expect(closed, te).toBe(true);
    }
  });

  it("refuses a bad chunk size and a header name with a space before the colon", async () => {
    for (const request of [
      `POST /oauth/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n\r\n${hidden}`,
      `POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length : 0\r\n\r\n${hidden}`,
    ]) {
      const { text, closed } = await exchange(request);
      expect(statuses(text)).toEqual([400]);
      expect(closed).toBe(true);
    }
  });
});
