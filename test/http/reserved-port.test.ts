import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createListener, type Listener } from "../../src/http/listener.js";
import { PortUnavailableError, reservePort } from "../../src/http/reserved-port.js";

// The port bound before the start: a busy one refused by name, a held one handed to the listener
// with the connections that arrived meanwhile answered, not dropped.

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const item of open.splice(0)) await item.close();
});

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.end("GET /x HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n"));
    let data = "";
    socket.on("data", (chunk: Buffer) => (data += chunk.toString()));
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
  });
}

describe("reservePort", () => {
  it("refuses a port in use, naming it", async () => {
    const held = await reservePort("127.0.0.1", 0);
    open.push({ close: () => held.release() });
    const err = await reservePort("127.0.0.1", held.port).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortUnavailableError);
    expect((err as Error).message).toBe(`port ${held.port} is in use (on 127.0.0.1)`);
  });

  it("hands its socket to the listener, which answers what connected meanwhile", async () => {
    const reserved = await reservePort("127.0.0.1", 0);
    // Sent while nothing serves: it waits, unread, in the reservation.
    const early = get(reserved.port);
    const listener: Listener = createListener({ handler: (_req, res) => res.end("ready"), host: "127.0.0.1", port: 1, reserved });
    open.push(listener);
    await new Promise((r) => setTimeout(r, 50));
    const address = await listener.listen();
    expect(address.port).toBe(reserved.port);
    expect(await early).toMatch(/^HTTP\/1\.1 200[\s\S]*ready$/);
    expect(await get(reserved.port)).toMatch(/ready$/);
  });

  it("frees the port on release", async () => {
    const reserved = await reservePort("127.0.0.1", 0);
    await reserved.release();
    const again = await reservePort("127.0.0.1", reserved.port);
    await again.release();
  });
});
