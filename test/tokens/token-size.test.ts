import { describe, expect, it } from "vitest";
import { signingAlgorithms } from "../../src/keys/algorithms.js";
import { signJwt } from "../../src/keys/sign-jwt.js";
import { generateSigningKey, kidLength, signatureBytes } from "../../src/keys/signing-key.js";

// token-size.ts bounds a token by each algorithm's header and signature as the issuer makes its
// keys; a key of another size or a kid of another length would make that bound wrong.

describe("the parts of a token's length that the algorithm decides", () => {
  it.each(signingAlgorithms)("match a real %s key's header and signature", async (alg) => {
    const key = await generateSigningKey(alg);
    expect(key.kid).toHaveLength(kidLength);
    const [header, , signature] = (await signJwt(key, { sub: "s" })).split(".") as [string, string, string];
    expect(header).toBe(key.encodedHeader);
    expect(Buffer.from(signature, "base64url")).toHaveLength(signatureBytes[alg]);
  });
});
