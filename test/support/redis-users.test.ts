import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { removeDir, tempDir } from "./redis-process.js";
import { sharedRedisTestFiles } from "./redis-users.js";

// The split of vitest.config.ts: a file that can reach the shared Redis must land in the "redis"
// project, or it fails there with no URL; any other file must not, or it starts a redis-server.

const root = fileURLToPath(new URL("../..", import.meta.url));
// Written in two parts, so that this file does not itself read as one that imports vitest's inject.
const injectLine = "import { describe,\n  inj" + "ect } from 'vitest';\n";

describe("sharedRedisTestFiles", () => {
  const dir = tempDir("redis-users");
  afterAll(() => removeDir(dir));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };

  it("follows static, dynamic and re-exporting relative imports, through import cycles, to an import of inject", () => {
    write("test/support/shared.ts", `${injectLine}export const url = () => inject("redisUrl");\n`);
    write("test/support/again.ts", `export { url } from "./shared.js";\n`);
    write("test/support/loop-a.ts", `import "./loop-b.js";\nexport const a = 1;\n`);
    write("test/support/loop-b.ts", `import { a } from "./loop-a.js";\nimport { url } from "./again.js";\n`);
    write("test/support/plain.ts", `import { pino } from "pino";\nexport const n = 2;\n`);
    write("test/direct.test.ts", `${injectLine}`);
    write("test/deep/static.test.ts", `import { url } from "../support/again.js";\n`);
    write("test/dynamic.test.ts", `const { url } = await import("./support/shared.js");\n`);
    // Entered through either end of the cycle, the walk reaches shared.ts.
    write("test/loop-a.test.ts", `import { a } from "./support/loop-a.js";\n`);
    write("test/loop-b.test.ts", `import "./support/loop-b.js";\n`);
    write("test/unit.test.ts", `import { describe } from "vitest";\nimport { n } from "./support/plain.js";\n`);
    write("test/method.test.ts", `const server = { inject() {} };\nserver.inject();\n`);
    write("test/missing.test.ts", `import { x } from "./support/not-there.js";\n`);
    // Outside test/ nothing is followed: src/ never imports test support.
    write("src/shared.ts", `${injectLine}`);
    write("test/src-user.test.ts", `import "../src/shared.js";\n`);
    write("test/support/helper.ts", `${injectLine}`);

    expect(sharedRedisTestFiles(dir)).toEqual([
      "test/deep/static.test.ts",
      "test/direct.test.ts",
      "test/dynamic.test.ts",
      "test/loop-a.test.ts",
      "test/loop-b.test.ts",
    ]);
  });

  it("puts this repository's Redis suites in the redis project and its unit tests outside it", () => {
    const shared = sharedRedisTestFiles(root);
    // Through test/support/redis.ts directly, through server.ts, and through test/redis/server-flow.ts.
    expect(shared).toEqual(expect.arrayContaining(["test/store/redis-store.test.ts", "test/http/token-endpoint.test.ts", "test/redis/cluster-server.test.ts"]));
    expect(shared).not.toContain("test/config.test.ts");
    expect(shared).not.toContain("test/support/redis-users.test.ts");
  });
});
