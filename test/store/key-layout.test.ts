import { describe, expect, it } from "vitest";
import { clientTag, createKeyLayout, organizationTag } from "../../src/store/key-layout.js";

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
