import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ResourceServerSchema } from "../../gen/m2mauth/v1/resource_servers_pb.js";
import type { Caller } from "../../src/clients/caller.js";
import { checkRegisteredGrant, registryAudiences } from "../../src/clients/grant-rules.js";
import { InvalidArgumentError } from "../../src/errors.js";
import type { RegistryLookup } from "../../src/store/resource-server-store.js";

// The grant rules as a table: who asks, what the registry holds, what the client would hold.

const issuer = "https://m2m.example.com";
const env: Caller = { organizationId: undefined, scopes: ["m2m:clients:write"] };
const orgAdmin: Caller = { organizationId: "org_a", scopes: ["m2m:clients:write"] };
const deploy = create(ResourceServerSchema, { id: "rs_a", audience: "deploy.example.com", scopes: [{ name: "deploy:apps" }] });
const billing = create(ResourceServerSchema, { id: "rs_b", audience: "billing.internal", scopes: [{ name: "billing:read" }], organizationIds: ["org_b"] });
const none: RegistryLookup = { total: 0, servers: [] };
// What a lookup of `audiences` answers with both APIs registered.
const registered = (audiences: readonly string[]): RegistryLookup => ({ total: 2, servers: [deploy, billing].filter((s) => audiences.includes(s.audience)) });

function refusal(caller: Caller, organizationId: string, audience: string[], scopes: string[], registry: RegistryLookup): string | undefined {
  try {
    checkRegisteredGrant(caller, { organizationId, audience, scopes }, registry, issuer);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return (err as Error).message;
  }
}

describe("checkRegisteredGrant", () => {
  it("leaves the environment's admin free while nothing is registered (the seed's flow)", () => {
    expect(refusal(env, "org_a", ["anything.example.com"], ["admin:everything"], none)).toBeUndefined();
  });

  it("holds an organization's admin to the registry even while it is empty, except for the management API", () => {
    expect(refusal(orgAdmin, "org_a", ["deploy.example.com"], [], none)).toMatch(
      /^audience: deploy\.example\.com: no API is registered yet: an environment admin must register/,
    );
    expect(refusal(orgAdmin, "org_a", [issuer], ["admin:everything"], none)).toMatch(/^scopes: admin:everything: no API is registered yet/);
    expect(refusal(orgAdmin, "org_a", [issuer], ["m2m:clients:read"], none)).toBeUndefined();
  });

  it("once registered: audiences registered and open to the organization, scopes defined by one of them", () => {
    for (const caller of [env, orgAdmin]) {
      expect(refusal(caller, "org_a", ["deploy.example.com"], ["deploy:apps"], registered(["deploy.example.com"]))).toBeUndefined();
      expect(refusal(caller, "org_a", ["deploy.example.com", "x.example.com"], [], registered(["deploy.example.com"]))).toMatch(
        /^audience: x\.example\.com: not a registered API/,
      );
      expect(refusal(caller, "org_a", ["deploy.example.com"], ["deploy:apps", "billing:read", "admin:all"], registered(["deploy.example.com"]))).toMatch(
        /^scopes: billing:read admin:all: not defined by any of the client's audiences/,
      );
      expect(refusal(caller, "org_a", ["billing.internal"], ["billing:read"], registered(["billing.internal"]))).toMatch(
        /^audience: billing\.internal: not available to organization org_a/,
      );
      expect(refusal(caller, "org_a", [issuer, "deploy.example.com"], ["m2m:clients:read", "deploy:apps"], registered(["deploy.example.com"]))).toBeUndefined();
    }
    expect(refusal(env, "org_b", ["billing.internal"], ["billing:read"], registered(["billing.internal"]))).toBeUndefined();
  });

  it("looks up each audience once, never the issuer", () => {
    expect(registryAudiences([issuer, "a", "b", "a"], issuer)).toEqual(["a", "b"]);
  });
});
