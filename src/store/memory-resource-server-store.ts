import { checkLimit, compareBytes } from "./client-record-codec.js";
import {
  checkNewResourceServer,
  checkSameResourceServer,
  decodeResourceServer,
  encodeResourceServer,
  maxResourceServers,
  memberResourceServerId,
  resourceServerMember,
  type ResourceServerStore,
} from "./resource-server-store.js";

// The memory backend of the registry, for tests and single-process development: the same bytes,
// index members and bound as Redis, every method one synchronous step as a Redis script is.

/** createMemoryResourceServerStore returns the registry kept in this process; `assertOpen` throws once the store is closed. */
export function createMemoryResourceServerStore(assertOpen: () => void): ResourceServerStore & { readonly size: () => number } {
  const records = new Map<string, Uint8Array>();
  const audiences = new Map<string, string>();
  // The index: members sorted by bytes, as a Redis sorted set with score 0.
  let members: string[] = [];
  return {
    size: () => records.size,
    async create(server) {
      assertOpen();
      checkNewResourceServer(server);
      if (records.has(server.id)) return "id-taken";
      if (audiences.has(server.audience)) return "audience-taken";
      if (records.size >= maxResourceServers) return "full";
      records.set(server.id, encodeResourceServer(server));
      audiences.set(server.audience, server.id);
      members = [...members, resourceServerMember(server)].sort(compareBytes);
      return "created";
    },
    async get(id) {
      assertOpen();
      const bytes = records.get(id);
      return bytes === undefined ? undefined : decodeResourceServer(bytes);
    },
    async list({ limit, cursor }) {
      assertOpen();
      checkLimit(limit);
      const start = cursor === undefined ? 0 : members.findIndex((member) => compareBytes(member, cursor) > 0);
      const page = start < 0 ? [] : members.slice(start, start + limit);
      const servers = page.flatMap((member) => {
        const bytes = records.get(memberResourceServerId(member));
        return bytes === undefined ? [] : [decodeResourceServer(bytes)];
      });
      const more = start >= 0 && start + limit < members.length;
      return { servers, total: members.length, cursor: more ? page[page.length - 1] : undefined };
    },
    async lookup(wanted) {
      assertOpen();
      const servers = wanted.flatMap((audience) => {
        const bytes = records.get(audiences.get(audience) ?? "");
        return bytes === undefined ? [] : [decodeResourceServer(bytes)];
      });
      return { total: records.size, servers };
    },
    async update(id, change) {
      assertOpen();
      const bytes = records.get(id);
      if (bytes === undefined) return undefined;
      const next = change(decodeResourceServer(bytes));
      checkSameResourceServer(decodeResourceServer(bytes), next);
      records.set(id, encodeResourceServer(next));
      return decodeResourceServer(records.get(id) as Uint8Array);
    },
    async delete(id) {
      assertOpen();
      const bytes = records.get(id);
      if (bytes === undefined) return false;
      const server = decodeResourceServer(bytes);
      records.delete(id);
      audiences.delete(server.audience);
      members = members.filter((member) => member !== resourceServerMember(server));
      return true;
    },
  };
}
