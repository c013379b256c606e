import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import type { RestBody, RestSecret } from "../support/management-api.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// A client's whole life over REST and RPC: update, secrets and their rotation, last use, on both stores.

for (const backend of ["redis", "memory"] as const) {
  describe(`client lifecycle (${backend} store)`, () => {
    let t: TestServer;
    let admin: string;
    const org = "org_lifecycle";

    async function api(method: string, path: string, body?: unknown, token = admin): Promise<{ status: number; json: RestBody }> {
      const res = await fetch(`${t.url}/api/v1/organizations/${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, json: (await res.json()) as RestBody };
    }
    async function register(body: object = seedClient, organization = org, token = admin) {
      const res = await api("POST", `${organization}/clients`, body, token);
      expect(res.status).toBe(201);
      return { id: res.json.client.client_id, secret: res.json.plain_secret, client: res.json.client };
    }

    beforeAll(async () => {
      t = await startTestServer({ backend, usageFlushIntervalMs: 20 });
      admin = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
    });
    afterAll(() => t.close());

    it("PATCH changes only the fields sent; tokens issued after carry the new values", async () => {
      const c = await register();
      const res = await api("PATCH", `${org}/clients/${c.id}`, {
        name: "Renamed",
        scopes: ["read:deployments"],
        custom_claims: [{ key: "team", value: "platform" }],
      });
      expect(res.status).toBe(200);
      expect(res.json.client).toMatchObject({ name: "Renamed", description: seedClient.description, scopes: ["read:deployments"], expiry: 3600 });
      expect(res.json.client.custom_claims).toEqual([{ key: "team", value: "platform" }]);
      expect(res.json.client.update_time > c.client.update_time).toBe(true);
      expect(res.json.client.create_time).toBe(c.client.create_time);
      const claims = decodeJwt(await getToken(t.url, c.id, c.secret));
      expect(claims).toMatchObject({ scope: "read:deployments", team: "platform" });
      expect(claims["github_repository"]).toBeUndefined();
      const cleared = await api("PATCH", `${org}/clients/${c.id}`, { description: "" });
      expect(cleared.json.client).toMatchObject({ name: "Renamed", description: "" });
    });

    it("PATCH refuses bad input, naming the field, and changes nothing", async () => {
      const c = await register();
      for (const [body, field] of [
        [{ expiry: 10 }, "expiry"],
        [{ colour: "red" }, "colour"],
        [{}, "no field"],
        [{ custom_claims: [{ key: "iss", value: "x" }] }, "custom_claims[0].key"],
      ] as const) {
        const res = await api("PATCH", `${org}/clients/${c.id}`, body);
        expect(res.status).toBe(400);
        expect(res.json.message).toContain(field);
      }
      expect((await api("GET", `${org}/clients/${c.id}`)).json.client).toEqual(c.client);
      expect((await api("PATCH", `${org}/clients/m2morg_nobody`, { name: "x" })).status).toBe(404);
    });

    it("over gRPC: UpdateOrganizationClient honours update_mask (or the fields set), and secrets come and go", async () => {
      const c = await register();
      const rpc = createClient(OrganizationClientService, createGrpcTransport({ baseUrl: t.url }));
      const auth = { headers: { authorization: `Bearer ${admin}` } };
      const masked = await rpc.updateOrganizationClient(
        { organizationId: org, clientId: c.id, client: { name: "Masked", description: "ignored" }, updateMask: { paths: ["name"] } },
        auth,
      );
      expect(masked.client).toMatchObject({ name: "Masked", description: seedClient.description });
      const implied = await rpc.updateOrganizationClient({ organizationId: org, clientId: c.id, client: { expiry: 120 } }, auth);
      expect(implied.client).toMatchObject({ name: "Masked", expiry: 120 });
      const bad = await rpc
        .updateOrganizationClient({ organizationId: org, clientId: c.id, client: { name: "x" }, updateMask: { paths: ["client_id"] } }, auth)
        .catch((e: unknown) => ConnectError.from(e));
      expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
      expect((bad as ConnectError).rawMessage).toContain("update_mask");

      const added = await rpc.createOrganizationClientSecret({ organizationId: org, clientId: c.id }, auth);
      expect(added.plainSecret).toMatch(/^m2msk_/);
      await getToken(t.url, c.id, added.plainSecret);
      await rpc.deleteOrganizationClientSecret({ organizationId: org, clientId: c.id, secretId: added.secret!.id }, auth);
      await expect(getToken(t.url, c.id, added.plainSecret)).rejects.toThrow(/401/);
      const last = await rpc
        .deleteOrganizationClientSecret({ organizationId: org, clientId: c.id, secretId: c.client.secrets[0]!.id }, auth)
        .catch((e: unknown) => ConnectError.from(e));
      expect((last as ConnectError).code).toBe(Code.FailedPrecondition);
    });

    it("rotates a secret: add, both work, delete the old; the last secret cannot be deleted; at most 5", async () => {
      const c = await register();
      const added = await api("POST", `${org}/clients/${c.id}/secrets`);
      expect(added.status).toBe(201);
      expect(added.json.secret).toMatchObject({
        id: expect.stringMatching(/^sks_/) as unknown,
        status: "ACTIVE",
        secret_suffix: added.json.plain_secret.slice(-4),
      });
      await getToken(t.url, c.id, c.secret);
      await getToken(t.url, c.id, added.json.plain_secret);
      const listed = (await api("GET", `${org}/clients/${c.id}`)).json.client.secrets;
      expect(listed.map((s) => s.id)).toEqual([c.client.secrets[0]!.id, added.json.secret.id]);
      expect(JSON.stringify(listed)).not.toContain(added.json.plain_secret);

      expect((await api("DELETE", `${org}/clients/${c.id}/secrets/${c.client.secrets[0]!.id}`)).status).toBe(200);
      await expect(getToken(t.url, c.id, c.secret)).rejects.toThrow(/401/);
      await getToken(t.url, c.id, added.json.plain_secret);

      const last = await api("DELETE", `${org}/clients/${c.id}/secrets/${added.json.secret.id}`);
      expect(last.status).toBe(400);
      expect(last.json.code).toBe("failed_precondition");
      expect((await api("DELETE", `${org}/clients/${c.id}/secrets/sks_unknown`)).status).toBe(404);

      for (let i = 0; i < 4; i++) expect((await api("POST", `${org}/clients/${c.id}/secrets`)).status).toBe(201);
      const sixth = await api("POST", `${org}/clients/${c.id}/secrets`);
      expect(sixth.json.code).toBe("failed_precondition");
      expect((await api("GET", `${org}/clients/${c.id}`)).json.client.secrets).toHaveLength(5);
    });

    it("records when each secret was last used, within moments", async () => {
      const c = await register();
      const second = (await api("POST", `${org}/clients/${c.id}/secrets`)).json;
      const before = Date.now();
      await getToken(t.url, c.id, second.plain_secret);
      let secrets: RestSecret[] = [];
      for (let i = 0; i < 50; i++) {
        secrets = (await api("GET", `${org}/clients/${c.id}`)).json.client.secrets;
        if (secrets[1]!.last_used_time) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(secrets[0]!.last_used_time).toBeUndefined();
      expect(Date.parse(secrets[1]!.last_used_time!)).toBeGreaterThanOrEqual(before - 1000);
      const listed = (await api("GET", `${org}/clients?page_size=100`)).json.clients.find((x) => x.client_id === c.id);
      expect(listed!.secrets[1]!.last_used_time).toBe(secrets[1]!.last_used_time);
    });

    it("rotates a secret under load of token requests with zero failures", async () => {
      const c = await register();
      let deployed = c.secret;
      let failures = 0;
      let served = 0;
      let running = true;
      const worker = async () => {
        while (running) {
          await getToken(t.url, c.id, deployed).then(
            () => served++,
            () => failures++,
          );
        }
      };
      const workers = Array.from({ length: 4 }, worker);
      await new Promise((r) => setTimeout(r, 100));
      const added = (await api("POST", `${org}/clients/${c.id}/secrets`)).json;
      deployed = added.plain_secret;
      // Let requests that picked up the old secret finish before it goes.
      await new Promise((r) => setTimeout(r, 100));
      expect((await api("DELETE", `${org}/clients/${c.id}/secrets/${c.client.secrets[0]!.id}`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 100));
      running = false;
      await Promise.all(workers);
      expect(failures).toBe(0);
      expect(served).toBeGreaterThan(10);
    });
  });
}
