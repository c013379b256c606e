// The m2m-auth server entry (`import … from "m2m-auth"`): compose and run the token service in
// your own process. Importing it starts nothing; src/main.ts is the `npm start` process. The
// resource-server library, which needs neither Redis nor pino, is "m2m-auth/interceptor".
export { createM2MServer, type M2MServer, type M2MServerOptions } from "./server.js";
export { publicProcedures } from "./server-routes.js";
export { ConfigError, loadConfig, type Config, type LogLevel } from "./config.js";
export { createLogger, type LoggerOptions } from "./logger.js";
export { KeyEncryptionError } from "./keys/key-encryption.js";
export { StoreStateError } from "./state/store-state-error.js";
export type { SigningAlgorithm } from "./keys/algorithms.js";
export type { ClientPage, ClientStore, StateChange, StateStore, Store } from "./store/client-store.js";
export { createMemoryStore } from "./store/memory-store.js";
export { createRedisStore, type RedisStoreOptions } from "./store/redis-store.js";
export {
  InternalError,
  InvalidArgumentError,
  InvalidClientError,
  InvalidRequestError,
  InvalidScopeError,
  InvalidTargetError,
  PermissionDeniedError,
  FailedPreconditionError,
  M2MError,
  type M2MErrorCode,
  NotFoundError,
  UnavailableError,
  UnsupportedGrantTypeError,
} from "./errors.js";
