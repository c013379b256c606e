import { describe, expect, it } from "vitest";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { bearerChallenge, parseBearerToken } from "../../src/interceptor/auth-interceptor.js";
import { createRequiredScopes, missingScopes, procedureOf } from "../../src/interceptor/scopes.js";

describe("required scopes", () => {
  it("reads the required_scopes method option, once per descriptor", () => {
    const scopes = createRequiredScopes();
    const get = OrganizationClientService.method.getOrganizationClient;
    expect(scopes.forMethod(get)).toEqual(["m2m:clients:read"]);
    expect(scopes.forMethod(get)).toBe(scopes.forMethod(get));
    expect(scopes.forMethod(OrganizationClientService.method.deleteOrganizationClient)).toEqual(["m2m:clients:write"]);
    expect(scopes.forMethod(TokenService.method.issueToken)).toEqual([]);
  });

  it("lets an override replace the option", () => {
    const scopes = createRequiredScopes({ "/m2mauth.v1.OrganizationClientService/GetOrganizationClient": ["x", "y"] });
    expect(scopes.forMethod(OrganizationClientService.method.getOrganizationClient)).toEqual(["x", "y"]);
    expect(scopes.forMethod(OrganizationClientService.method.listOrganizationClients)).toEqual(["m2m:clients:read"]);
  });

  it("rejects a malformed override", () => {
    expect(() => createRequiredScopes({ GetOrganizationClient: ["x"] })).toThrow(TypeError);
    expect(() => createRequiredScopes({ "/a.B/C": ["has space"] })).toThrow(TypeError);
  });

  it("names procedures like Connect and gRPC do", () => {
    expect(procedureOf(TokenService.method.issueToken)).toBe("/m2mauth.v1.TokenService/IssueToken");
  });

  it("lists the missing scopes in required order", () => {
    expect(missingScopes(["a", "b", "c"], ["c", "a"])).toEqual(["b"]);
    expect(missingScopes([], [])).toEqual([]);
  });
});

describe("bearer syntax (RFC 6750)", () => {
  it("parses exactly one b64token", () => {
    expect(parseBearerToken("Bearer abc.DEF-_~+/==")).toBe("abc.DEF-_~+/==");
    expect(parseBearerToken("bearer  x")).toBe("x");
    expect(parseBearerToken("Bearer a=b")).toBeUndefined();
    expect(parseBearerToken("Bearer a b")).toBeUndefined();
    expect(parseBearerToken("Basic abc")).toBeUndefined();
  });

  it("quotes challenge parameters safely", () => {
    expect(bearerChallenge()).toBe("Bearer");
    expect(bearerChallenge({ error: "invalid_token", error_description: 'say "hi"\\\n' })).toBe('Bearer error="invalid_token", error_description="say hi"');
  });
});
