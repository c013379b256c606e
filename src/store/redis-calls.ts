import type { ChainableCommander } from "ioredis";
import { UnavailableError } from "../errors.js";

/** available runs a Redis call, turning any failure into UnavailableError so callers fail closed. */
export async function available<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw new UnavailableError(undefined, { cause: err });
  }
}

/** toBuffer copies bytes for ioredis: binary values must be Buffers, and a copy keeps a queued command's bytes fixed. */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes);
}

/**
 * execPipeline sends a pipeline's commands in one write (one round trip) and returns their
 * replies in order. exec() reports each command's failure in its reply instead of rejecting, so
 * the first one is thrown here (wrap the call in `available`).
 */
export async function execPipeline(pipeline: ChainableCommander): Promise<unknown[]> {
  const replies = await pipeline.exec();
  if (replies === null) throw new Error("the pipeline was discarded");
  return replies.map(([err, reply]) => {
    if (err) throw err;
    return reply;
  });
}
