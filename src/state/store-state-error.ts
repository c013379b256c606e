/** storeInitCommand is how an operator runs the store's initialization command (src/ops/store-init.ts). */
export const storeInitCommand = "npm run store:init --";

/**
 * StoreStateError says the issuer's state in the store cannot be used as it is: part of it is
 * missing, it disagrees with the configuration, or Redis may evict it. The process refuses to
 * start rather than invent state another instance would not share; the message says what to do.
 */
export class StoreStateError extends Error {
  /** exitCode is 2 when the configuration must change (as for a bad variable), 1 when the store must be repaired. */
  readonly exitCode: 1 | 2;

  constructor(message: string, options: { exitCode?: 1 | 2; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "StoreStateError";
    this.exitCode = options.exitCode ?? 1;
  }
}
