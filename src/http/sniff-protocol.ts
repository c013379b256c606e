import type * as net from "node:net";

// One cleartext port serves HTTP/1.1 and HTTP/2 with prior knowledge (h2c). An h2c client opens
// with this fixed preface (RFC 9113 §3.4); no HTTP/1.1 request line can start with it, so the
// first bytes tell the protocols apart without any upgrade dance.
const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** SniffedProtocol is the protocol a connection speaks: `h2` (prior knowledge) or `http/1.1`. */
export type SniffedProtocol = "h2" | "http/1.1";

/**
 * classifyPreface tells the protocol from a connection's first bytes, or undefined while they
 * are still a proper prefix of the HTTP/2 preface and more bytes are needed to decide.
 */
export function classifyPreface(bytes: Buffer): SniffedProtocol | undefined {
  const n = Math.min(bytes.length, preface.length);
  if (!bytes.subarray(0, n).equals(preface.subarray(0, n))) return "http/1.1";
  return bytes.length >= preface.length ? "h2" : undefined;
}

/**
 * sniffProtocol reads the first bytes of `socket` until it can tell the protocol, puts them
 * back (`unshift`) so the protocol server sees the stream from its start, and resolves with it.
 * It rejects when the socket errors, ends or closes first, or has not decided after `timeoutMs`;
 * the caller then destroys the socket.
 */
export function sniffProtocol(socket: net.Socket, timeoutMs: number): Promise<SniffedProtocol> {
  return new Promise((resolve, reject) => {
    let seen = Buffer.alloc(0);
    // An absolute deadline, not socket.setTimeout: a client trickling one byte at a time must not
    // hold a connection open for long before it has even chosen a protocol.
    const timer = setTimeout(() => finish(new Error("no protocol preface before the timeout")), timeoutMs);

    function finish(outcome: SniffedProtocol | Error): void {
      clearTimeout(timer);
      socket.off("readable", onReadable);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      socket.off("error", finish);
      if (outcome instanceof Error) {
        reject(outcome);
        return;
      }
      socket.unshift(seen);
      resolve(outcome);
    }
    function onReadable(): void {
      // Paused mode, not 'data': no byte may reach a listener before the protocol server has one.
      for (let chunk: unknown = socket.read(); chunk !== null; chunk = socket.read()) {
        seen = Buffer.concat([seen, chunk as Buffer]);
      }
      const protocol = classifyPreface(seen);
      if (protocol !== undefined) finish(protocol);
    }
    function onEnd(): void {
      finish(new Error("connection closed before its protocol was known"));
    }

    socket.on("readable", onReadable);
    socket.once("end", onEnd);
    socket.once("close", onEnd);
    socket.once("error", finish);
  });
}
