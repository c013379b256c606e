import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { ResourceServerSchema, type ResourceServer } from "../../gen/m2mauth/v1/resource_servers_pb.js";

// The registry of resource servers (the APIs clients may be granted). Both backends keep each
// server as protobuf bytes and order the list by the same index member, so the memory backend
// pages exactly as Redis does. Every rule about what a server may hold lives in clients/.

/**
 * maxResourceServers bounds the registry. Every resource-server key shares one Redis hash tag, so
 * the unique audience, the list and each write are one atomic step on a Cluster too; the price is
 * that the whole registry lives in one slot, on one node. At the validation's limits (100 scopes
 * of ≤ 128 + 256 characters, 100 organization ids) a server is at most ~45 KB, so the registry
 * stays under ~5 MB, and a client create reads only the servers its ≤ 10 audiences name.
 */
export const maxResourceServers = 100;

/** ResourceServerPage is one page of the registry, oldest first. */
export interface ResourceServerPage {
  servers: ResourceServer[];
  /** total is the number of resource servers registered now. */
  total: number;
  /** cursor continues after the last server of this page; undefined on the last page. */
  cursor?: string;
}

/** RegistryLookup is what the registry says about some audiences, read at one moment. */
export interface RegistryLookup {
  /** total is the number of resource servers registered (0: no registry yet). */
  total: number;
  /** servers are the registered servers among the audiences asked for. */
  servers: ResourceServer[];
}

/** ResourceServerCreated is what a create did: stored it, or why not (nothing written then). */
export type ResourceServerCreated = "created" | "id-taken" | "audience-taken" | "full";

/**
 * ResourceServerStore keeps the registry. Every method either completes or changes nothing; a
 * backend that cannot reach its storage throws `UnavailableError`.
 */
export interface ResourceServerStore {
  /** create stores a new server unless its id or audience is taken or maxResourceServers are registered. */
  create(server: ResourceServer): Promise<ResourceServerCreated>;
  /** get returns the server with this id, or undefined. One round trip. */
  get(id: string): Promise<ResourceServer | undefined>;
  /** list returns up to `limit` servers after `cursor`, oldest first, stable under writes. */
  list(options: { limit: number; cursor?: string }): Promise<ResourceServerPage>;
  /** lookup returns how many servers are registered and those whose audience is among `audiences`, in one round trip. */
  lookup(audiences: readonly string[]): Promise<RegistryLookup>;
  /**
   * update replaces a server with `change(current)`, atomically (a concurrent write makes it read
   * and call `change` again); `change` may throw to abort, and must keep the id, audience and create
   * time (TypeError otherwise). Returns the stored server, or undefined when there is none.
   */
  update(id: string, change: (current: ResourceServer) => ResourceServer): Promise<ResourceServer | undefined>;
  /** delete removes a server and frees its audience; false when there is none. */
  delete(id: string): Promise<boolean>;
}

const timeDigits = 15;

/** encodeResourceServer is the stored form of a server: a copy the caller can no longer change. */
export function encodeResourceServer(server: ResourceServer): Uint8Array {
  return toBinary(ResourceServerSchema, server);
}

/** decodeResourceServer reads stored bytes into a fresh object the caller owns. */
export function decodeResourceServer(bytes: Uint8Array): ResourceServer {
  return fromBinary(ResourceServerSchema, new Uint8Array(bytes));
}

/** resourceServerMember is a server's index entry: its create time in ms, zero-padded so byte order is time order, then its id. */
export function resourceServerMember(server: ResourceServer): string {
  const time = server.createTime;
  const ms = time === undefined ? 0n : time.seconds * 1000n + BigInt(Math.floor(time.nanos / 1_000_000));
  const clamped = ms < 0n ? 0n : ms;
  return `${clamped.toString().padStart(timeDigits, "0").slice(-timeDigits)}:${server.id}`;
}

/** memberResourceServerId is the id an index member points at. */
export function memberResourceServerId(member: string): string {
  return member.slice(timeDigits + 1);
}

/** checkNewResourceServer throws TypeError unless `server` has an id and an audience to be stored by. */
export function checkNewResourceServer(server: ResourceServer): void {
  if (!server?.id || !server.audience) throw new TypeError("resource server: id and audience are required");
}

/** checkSameResourceServer throws TypeError if an update changed what places a server (id, audience, create time). */
export function checkSameResourceServer(current: ResourceServer, next: ResourceServer): void {
  if (resourceServerMember(current) !== resourceServerMember(next) || current.audience !== next.audience) {
    throw new TypeError("update must keep the resource server's id, audience and create time");
  }
}
