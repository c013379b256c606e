import { describe, expect, it } from "vitest";
import { assertionIdDigest, clientTag, createKeyLayout, organizationTag } from "../../src/store/key-layout.js";

function hashTagOf(key: string): string {
  return /\{([^}]+)\}/.exec(key)?.[1] ?? "";
}

describe("key layout", () => {
  it("puts a generated client's record in its organization's slot", () => {
    const layout = createKeyLayout("m2m:");
    const tag = organizationTag("org_59615193906282635");
    const clientId = `m2morg_${tag}abcdefghijklmnopqrst`;
    expect(clientTag(clientId)).toBe(tag);
    expect(hashTagOf(layout.client(clientId))).toBe(hashTagOf(layout.organizationIndex("org_59615193906282635")));
  });

  it("gives ids that are not generated here a tag of their own", () => {
    expect(clientTag("admin")).toMatch(/^[a-z2-7]{6}$/);
    expect(clientTag("admin")).toBe(clientTag("admin"));
    expect(organizationTag("a")).not.toBe(organizationTag("b"));
  });

  it("keeps every key under the prefix", () => {
    const layout = createKeyLayout("p:");
    expect(layout.state("signing-keys")).toBe("p:{state}:signing-keys");
    expect(layout.client("x").startsWith("p:")).toBe(true);
  });
});

describe("key layout parse", () => {
  const layout = createKeyLayout("p:");
  const clientId = `m2morg_${organizationTag("org_a")}abcdefghijklmnopqrst`;

  it("tells every key the layout names, and its ids", () => {
    expect(layout.parse(layout.client(clientId))).toEqual({ kind: "client", clientId });
    expect(layout.parse(layout.client("ci:with:colons"))).toEqual({ kind: "client", clientId: "ci:with:colons" });
    expect(layout.parse(layout.secretUse(clientId))).toEqual({ kind: "secret-use", clientId });
    expect(layout.parse(layout.organizationIndex("org_a"))).toEqual({ kind: "organization-index", organizationId: "org_a" });
    expect(layout.parse(layout.createRequest("org_a", "k:1"))).toEqual({ kind: "create-request", organizationId: "org_a", requestKey: "k:1" });
    const digest = assertionIdDigest("jti:1");
    expect(layout.parse(layout.assertionUse("legacy:id", digest))).toEqual({ kind: "assertion-use", clientId: "legacy:id", digest });
    expect(layout.parse(layout.state("lock:key-rotation"))).toEqual({ kind: "state", name: "lock:key-rotation" });
    expect(layout.parse(layout.revokedTokens)).toEqual({ kind: "revoked-tokens" });
    // An organization's share of the list: in the list's slot.
    expect(layout.revokedBy("org_a")).toBe(layout.revokedTokens.replace("revoked-tokens", "revoked-by:org_a"));
    expect(layout.parse(layout.revokedBy("org_a"))).toEqual({ kind: "revoked-by", organizationId: "org_a" });
    expect(layout.parse(layout.revokedTokens.replace("revoked-tokens", "revoked-by:not an org"))).toBeUndefined();
    const failures = layout.authFailures("client:any {id} at all");
    // Every failure count in one slot, named by a digest: short whatever the id.
    expect(failures).toMatch(/^p:\{auth-failures\}:[A-Za-z0-9_-]{43}$/);
    expect(layout.parse(failures)).toEqual({ kind: "auth-failures", digest: failures.slice("p:{auth-failures}:".length) });
    for (const part of ["records", "audiences", "index"] as const) {
      expect(layout.parse(layout.resourceServers[part])).toEqual({ kind: "resource-servers", part });
      // One hash tag for the whole registry: its scripts stay in one Cluster slot.
      expect(layout.resourceServers[part]).toMatch(/^p:\{resource-servers\}:/);
    }
  });

  it("refuses keys the layout never names: another prefix, tag or kind", () => {
    expect(layout.parse(`q:{${clientTag(clientId)}}:client:${clientId}`)).toBeUndefined();
    expect(layout.parse(`p:{aaaaaa}:client:${clientId}`)).toBeUndefined();
    expect(layout.parse(`p:{${organizationTag("org_a")}}:org:org_b:clients`)).toBeUndefined();
    expect(layout.parse(`p:{${clientTag(clientId)}}:thing:${clientId}`)).toBeUndefined();
    expect(layout.parse("p:client-changes")).toBeUndefined();
    expect(layout.parse("p:{state}:")).toBeUndefined();
    expect(layout.parse("p:{aaaaaa}:revoked:some-jti")).toBeUndefined();
    expect(layout.parse("p:{revoked}:revoked:some-jti")).toBeUndefined();
    expect(layout.parse("p:{auth-failures}:client:someone")).toBeUndefined();
    expect(layout.parse("p:{resource-servers}:other")).toBeUndefined();
  });

  it("scans its prefix with glob characters escaped", () => {
    expect(layout.match).toBe("p:*");
    expect(layout.clientMatch).toBe("p:{*}:client:*");
    expect(createKeyLayout("a*b?[c]\\:").match).toBe("a\\*b\\?\\[c\\]\\\\:*");
  });
});
