import type { ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import type { FailureLimiter } from "./failure-limiter.js";
import type { ResourceServerStore } from "./resource-server-store.js";

/** ClientPage is one page of an organization's clients, oldest first. */
export interface ClientPage {
  records: ClientRecord[];
  /** total is the number of clients the organization has now. */
  total: number;
  /** cursor continues after the last record of this page; undefined on the last page. */
  cursor?: string;
}

/** SecretUseEntry says a client's secret obtained a token at `timeMs`. */
export interface SecretUseEntry {
  clientId: string;
  secretId: string;
  timeMs: number;
}

/** CreateRequest is an idempotent create's answer, kept for the create's retries (AIP-155). */
export interface CreateRequest {
  /** key names the request within the record's organization: up to 64 characters of base64url. */
  key: string;
  /** bytes are the answer to keep; the store never reads them. */
  bytes: Uint8Array;
  /** ttlMs is how long they are kept (a positive integer); a retry after that creates anew. */
  ttlMs: number;
}

/**
 * CreateOnceResult is what createOnce did: created the record; or found the request made
 * already (`earlier`: its kept bytes) and wrote nothing; or neither, the client id being taken.
 */
export type CreateOnceResult = { created: true } | { created: false; earlier: Uint8Array | undefined };

/** SecretUseTimes maps client id → secret id → last use in ms. */
export type SecretUseTimes = Map<string, Map<string, number>>;

/**
 * ClientStore keeps client records. It is deliberately narrow: it stores and finds records and
 * keeps each organization's index in step with them; every rule about what a record may hold
 * lives above it, in `clients/` and `tokens/`.
 *
 * Every method either completes or changes nothing (a crash can never leave a record without
 * its index entry or the reverse). A backend that cannot reach its storage throws
 * `UnavailableError`, so callers fail closed with a retryable error.
 */
export interface ClientStore {
  /** create stores a new record and its index entry; false if the client id is taken. */
  create(record: ClientRecord): Promise<boolean>;
  /**
   * createOnce is create for a request that may be a retry: if the record's organization keeps a
   * request under `request.key`, it writes nothing and returns that request's bytes; otherwise it
   * stores the record, its index entry and the request, all or nothing, in the organization's slot.
   * An organization client only (TypeError for a system client).
   */
  createOnce(record: ClientRecord, request: CreateRequest): Promise<CreateOnceResult>;
  /** get returns the record of a client id, or undefined. One round trip: the token path's read. */
  get(clientId: string): Promise<ClientRecord | undefined>;
  /** list returns up to `limit` records of an organization after `cursor`, stable under writes. */
  list(organizationId: string, options: { limit: number; cursor?: string }): Promise<ClientPage>;
  /** delete removes a record of the organization, its index entry and its secret use times. */
  delete(organizationId: string, clientId: string): Promise<boolean>;
  /**
   * update replaces a client's record with `change(current)`, atomically: if another writer
   * changed the record in between, it reads again and calls `change` again. `change` may throw to
   * abort (nothing is written). It must keep the client id, organization and create time. Returns
   * the stored record, or undefined when the organization has no such client.
   */
  update(organizationId: string, clientId: string, change: (current: ClientRecord) => ClientRecord): Promise<ClientRecord | undefined>;
  /**
   * recordSecretUse stores last-use times, many in one round trip; a time never moves back, and
   * a use of a deleted client is dropped. Kept apart from records, so the token path only reads.
   */
  recordSecretUse(uses: readonly SecretUseEntry[]): Promise<void>;
  /** secretUse returns the last-use times of the clients' secrets (clients never used are absent). */
  secretUse(clientIds: readonly string[]): Promise<SecretUseTimes>;
  /**
   * useOnce notes that `clientId` used the one-time id `id` (a client assertion's `jti`, RFC 7523
   * §3 item 7): true the first time, false while an earlier use is kept, which is `ttlMs` (a
   * positive integer; the assertion's remaining life). One round trip, in the client's slot.
   */
  useOnce(clientId: string, id: string, ttlMs: number): Promise<boolean>;
  /**
   * walk calls `visit` with every client record, of every organization, on every node (Redis:
   * SCAN of each master, the records read a batch at a time): for rare administrative questions
   * (how many clients use an API), never on a path that runs often.
   */
  walk(visit: (record: ClientRecord) => void): Promise<void>;
}

/**
 * StateChange is one atomic write of several state values: applied only if every `expect` holds
 * at that moment, so a marker and the state it vouches for are written together or not at all.
 */
export interface StateChange {
  /** expect maps names to the bytes they must hold now; undefined: the name must not exist (of any kind). */
  expect: ReadonlyMap<string, Uint8Array | undefined>;
  /** set stores these values. */
  set?: ReadonlyMap<string, Uint8Array>;
  /** remove deletes these names, values or field maps alike. */
  remove?: readonly string[];
}

/**
 * StateStore keeps the issuer's own small, rarely written values (signing keys, the secret-hash
 * key, the bootstrap admin client, the store marker) as named byte strings, and a few named
 * field maps. Every name shares one Redis hash tag, so any set of them can change atomically.
 */
export interface StateStore {
  /** get returns the value stored under `name`, or undefined. */
  get(name: string): Promise<Uint8Array | undefined>;
  /** getMany returns the values of `names` as they were at one moment (one round trip). */
  getMany(names: readonly string[]): Promise<(Uint8Array | undefined)[]>;
  /** commit applies `change` atomically if every expectation holds; false (nothing written) otherwise. */
  commit(change: StateChange): Promise<boolean>;
  /** putField stores `value` as field `field` of the field map `name`. */
  putField(name: string, field: string, value: Uint8Array): Promise<void>;
  /** fields returns every field of the field map `name` (empty when there is none). */
  fields(name: string): Promise<Map<string, Uint8Array>>;
  /** putIfAbsent stores `value` unless `name` has one, and returns the value that is stored now. */
  putIfAbsent(name: string, value: Uint8Array): Promise<Uint8Array>;
  /** put stores `value` under `name`, replacing what was there. */
  put(name: string, value: Uint8Array): Promise<void>;
  /** compareAndSet stores `value` only if `name` holds exactly `expected` (undefined: nothing). */
  compareAndSet(name: string, expected: Uint8Array | undefined, value: Uint8Array): Promise<boolean>;
  /** acquireLock takes the named lock for `owner` unless someone holds it; it expires after `ttlMs`. */
  acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /** releaseLock frees the named lock if `owner` still holds it. */
  releaseLock(name: string, owner: string): Promise<void>;
}

/** RevokedToken is one live denial: the token's `jti` and when (ms since the epoch) it ends. */
export interface RevokedToken {
  jti: string;
  untilMs: number;
}

/**
 * RevocationStore keeps the ids (`jti`) of revoked access tokens (RFC 7009) until the tokens
 * would have expired anyway; every instance sharing the backend reads the same answer at once.
 * It holds at most maxLiveRevocations live denials (client-record-codec.ts), so the whole list
 * can be published (`GET /oauth/revoked`).
 */
export interface RevocationStore {
  /**
   * revoke denies `jti` for `ttlMs` (a positive integer) from now; revoking again restarts the
   * time. `organizationId` is whose token it is ("" for the environment's own, its admin's): a new
   * jti of an organization holding maxLiveRevocationsPerOrganization live denials is refused with
   * ResourceExhaustedError; of any organization once the list holds maxLiveRevocations minus
   * revocationReserve, and of the environment's at maxLiveRevocations, with UnavailableError.
   */
  revoke(jti: string, ttlMs: number, organizationId?: string): Promise<void>;
  /** isRevoked says whether `jti` is denied now. One round trip. */
  isRevoked(jti: string): Promise<boolean>;
  /** list returns every live denial, soonest to end first. One round trip. */
  list(): Promise<RevokedToken[]>;
}

/** ClientChangeListener hears about client records changed or deleted by any instance. */
export interface ClientChangeListener {
  /** changed is called after a write changed or deleted `clientId`'s record. */
  changed(clientId: string): void;
  /** live is called with false when changes may have been missed (feed down), true once heard again. */
  live(live: boolean): void;
}

/**
 * ClientChangeFeed tells every instance sharing a backend which client records changed. Writes
 * announce themselves atomically with the write, so a listener that is live misses none.
 */
export interface ClientChangeFeed {
  /** listen starts hearing changes; `listener.live(true)` follows once the feed is up. Returns a stop function. */
  listen(listener: ClientChangeListener): () => Promise<void>;
}

/** Store is a backend: the client and state stores over one connection. */
export interface Store {
  /** clients is the client record store. */
  readonly clients: ClientStore;
  /** state is the issuer state store. */
  readonly state: StateStore;
  /** revocations is the deny list of revoked tokens' ids. */
  readonly revocations: RevocationStore;
  /** failures counts failed client authentications, shared by every process of the backend. */
  readonly failures: FailureLimiter;
  /** resourceServers is the registry of the APIs clients may be granted. */
  readonly resourceServers: ResourceServerStore;
  /**
   * changes announces record changes to other processes; undefined for a backend that only one
   * process can use (memory), where there is nothing to hear.
   */
  readonly changes?: ClientChangeFeed;
  /** ping resolves when the backend answers, and throws UnavailableError when it does not. */
  ping(): Promise<void>;
  /**
   * empty resolves true when the backend holds no key at all under its prefix. It may walk the
   * keyspace (Redis SCAN, stopping at the first key found): call it only when the store marker
   * is missing, never on a path that runs often.
   */
  empty(): Promise<boolean>;
  /**
   * evictionPolicies returns the distinct `maxmemory-policy` values of the nodes holding data;
   * undefined for a backend that never evicts (memory).
   */
  readonly evictionPolicies?: () => Promise<string[]>;
  /**
   * onHealth calls `listener(false)` once the backend is known to be unreachable (every call then
   * fails at once with UnavailableError) and `listener(true)` once it answers again; returns a
   * function that removes it. Undefined for a backend that cannot become unreachable (memory).
   */
  onHealth?(listener: (reachable: boolean) => void): () => void;
  /** close releases the connection; pending writes are flushed first. */
  close(): Promise<void>;
}
