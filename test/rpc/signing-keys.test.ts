import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { SigningKeyService, SigningKeyStatus } from "../../gen/m2mauth/v1/keys_pb.js";
import { keyRetentionMs } from "../../src/rules.js";
import { getToken, startTestServer, type TestServer } from "../support/server.js";

// SigningKeyService over real transports: who may call it, and what a rotation looks like.

const code = async (p: Promise<unknown>) =>
  ConnectError.from(
    await p.then(
      () => undefined,
      (e: unknown) => e,
    ),
  ).code;

describe("SigningKeyService", () => {
  let t: TestServer;
  let keys: Client<typeof SigningKeyService>;
  let auth: { headers: { authorization: string } };
  // The server's clock runs ahead by `ahead` ms, so a test can wait out the rotation guard.
  let ahead = 0;

  beforeAll(async () => {
    t = await startTestServer({ now: () => Date.now() + ahead });
    keys = createClient(SigningKeyService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
    auth = { headers: { authorization: `Bearer ${await getToken(t.url, t.admin.clientId, t.admin.clientSecret)}` } };
  });
  afterAll(() => t.close());

  it("lists the ring and rotates it for the environment's admin", async () => {
    const listed = await keys.listSigningKeys({}, auth);
    expect(listed.keys.map((k) => k.status)).toEqual([SigningKeyStatus.CURRENT, SigningKeyStatus.NEXT]);
    const [current, next] = listed.keys;
    expect(current).toMatchObject({ alg: "RS256", kid: t.server.keyRing.current().kid });
    expect(current!.activateTime).toBeDefined();
    expect(current!.retireTime).toBeUndefined();
    expect(next!.activateTime).toBeUndefined();

    // The next key was published at start: verifiers may not have fetched it for 5 minutes.
    const refused = ConnectError.from(await keys.rotateSigningKey({}, auth).catch((e: unknown) => e));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.rawMessage).toMatch(/^the next signing key was published \d+ s ago .*rotate again in \d+ s; or set force/);
    expect((await keys.listSigningKeys({}, auth)).keys[0]!.kid).toBe(current!.kid);
    ahead += 302_000;

    const rotated = await keys.rotateSigningKey({}, auth);
    expect(rotated.key).toMatchObject({ kid: next!.kid, status: SigningKeyStatus.CURRENT });
    const after = await keys.listSigningKeys({}, auth);
    expect(after.keys.map((k) => k.status)).toEqual([SigningKeyStatus.CURRENT, SigningKeyStatus.NEXT, SigningKeyStatus.PREVIOUS]);
    const previous = after.keys[2]!;
    expect(previous.kid).toBe(current!.kid);
    expect(timestampMs(previous.retireTime!) - timestampMs(after.keys[0]!.activateTime!)).toBe(keyRetentionMs);
    // The admin token, signed by the now previous key, still works; the JWKS lists all three.
    const jwks = (await (await fetch(`${t.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual(after.keys.map((k) => k.kid));
    // And over gRPC as well.
    const grpc = createClient(SigningKeyService, createGrpcTransport({ baseUrl: t.url }));
    expect((await grpc.listSigningKeys({}, auth)).keys).toHaveLength(3);
  });

  it("refuses an organization's client, even one granted the keys scopes", async () => {
    const clients = createClient(OrganizationClientService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
    const created = await clients.createOrganizationClient(
      { organizationId: "org_keys", client: { name: "org admin", scopes: ["m2m:keys:read", "m2m:keys:write"], audience: [t.issuer], expiry: 600 } },
      auth,
    );
    const orgToken = await getToken(t.url, created.client!.clientId, created.plainSecret);
    const org = { headers: { authorization: `Bearer ${orgToken}` } };
    expect(await code(keys.listSigningKeys({}, org))).toBe(Code.PermissionDenied);
    expect(await code(keys.rotateSigningKey({}, org))).toBe(Code.PermissionDenied);
    const error = ConnectError.from(await keys.rotateSigningKey({}, org).catch((e: unknown) => e));
    expect(error.rawMessage).toBe("signing keys are managed by the environment's admin");
  });

  it("refuses a token without the keys scopes, and a call without a token", async () => {
    const clients = createClient(OrganizationClientService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
    const created = await clients.createOrganizationClient(
      { organizationId: "org_keys", client: { name: "reader", scopes: ["m2m:keys:read"], audience: [t.issuer], expiry: 600 } },
      auth,
    );
    const reader = { headers: { authorization: `Bearer ${await getToken(t.url, created.client!.clientId, created.plainSecret)}` } };
    expect(await code(keys.rotateSigningKey({}, reader))).toBe(Code.PermissionDenied);
    expect(await code(keys.listSigningKeys({}))).toBe(Code.Unauthenticated);
  });

  it("signs new tokens with the key it lists as current", async () => {
    const { keys: listed } = await keys.listSigningKeys({}, auth);
    const token = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
    expect(decodeProtectedHeader(token).kid).toBe(listed[0]!.kid);
  });

  it("refuses a second rotation a second after the first; force rotates at once", async () => {
    ahead += 302_000;
    const first = await keys.rotateSigningKey({}, auth);
    ahead += 1000;
    const refused = ConnectError.from(await keys.rotateSigningKey({}, auth).catch((e: unknown) => e));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.rawMessage).toMatch(/published 1 s ago .*rotate again in 301 s/);
    expect((await keys.listSigningKeys({}, auth)).keys[0]!.kid).toBe(first.key!.kid);
    const forced = await keys.rotateSigningKey({ force: true }, auth);
    expect(forced.key!.kid).not.toBe(first.key!.kid);
    expect((await keys.listSigningKeys({}, auth)).keys[0]!.kid).toBe(forced.key!.kid);
  });
});
