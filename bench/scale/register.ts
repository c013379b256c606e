import { startChild } from "../processes.js";

/** RegisterRequest asks the register worker for `count` clients in one organization. */
export interface RegisterRequest {
  redisUrl: string;
  keyPrefix: string;
  organizationId: string;
  count: number;
  /** concurrency is how many creates are in flight at once. */
  concurrency: number;
  /** keep is how many clients' credentials to send back, spread evenly over the registration. */
  keep: number;
}

/** Registered is what one registration took, and the credentials it kept. */
export interface Registered {
  count: number;
  ms: number;
  kept: { clientId: string; clientSecret: string }[];
}

/** registerClients runs the registration in a child process of its own, then stops it. */
export async function registerClients(request: RegisterRequest): Promise<Registered> {
  const worker = await startChild<object>("./workers/register.ts");
  try {
    // 100k creates at a few thousand a second: allow minutes, not the default two.
    return await worker.request<Registered>("register", request, 30 * 60_000);
  } finally {
    await worker.stop();
  }
}
