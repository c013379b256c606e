import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CustomClaimSchema, M2MClientSchema } from "../../gen/m2mauth/v1/clients_pb.js";
import { buildClaims } from "../../src/tokens/claims.js";

describe("token claims", () => {
  it("never emit a prototype-named custom claim, even from a record stored before such keys were refused", () => {
    const customClaims = ["__proto__", "constructor", "prototype", "team"].map((key) => create(CustomClaimSchema, { key, value: "x" }));
    const client = create(M2MClientSchema, { clientId: "m2morg_c", customClaims, expiry: 60 });
    const claims = buildClaims(client, { issuer: "https://issuer.test", scopes: [], audience: ["api"], nowSeconds: 1_700_000_000 });
    expect(Object.keys(JSON.parse(JSON.stringify(claims)) as object)).toEqual(["team", "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scopes"]);
  });
});
