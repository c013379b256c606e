import { fileURLToPath } from "node:url";
import { configDefaults, defineConfig } from "vitest/config";
import { sharedRedisTestFiles } from "./test/support/redis-users.js";

// Projects split on every run by what each test file imports (test/support/redis-users.ts):
// "redis" gets the shared Redis of test/support/global-setup.ts (REDIS_URL, else a private
// redis-server), "unit" starts none. vitest runs a project's global setup only when one of its
// files is selected, so `vitest run test/config.test.ts` never starts a redis-server.
const root = fileURLToPath(new URL(".", import.meta.url));
const sharedRedis = sharedRedisTestFiles(root);
// Files that measure time run last and alone (their own project, a later group): beside the rest
// of the suite their noise grows until they could no longer tell the gaps they exist to catch.
const alone = ["test/tokens/auth-timing.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Two cores here: test files run in two workers, each with its own server and key prefix.
    // vitest's default (cores − 1) is one worker on two cores, and most files wait on Redis, a
    // child process or a browser more than they compute, so one worker left a core idle.
    pool: "forks",
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/**/*.test.ts"], exclude: [...configDefaults.exclude, ...sharedRedis] },
      },
      {
        extends: true,
        test: { name: "redis", include: sharedRedis.filter((file) => !alone.includes(file)), globalSetup: ["test/support/global-setup.ts"] },
      },
      {
        extends: true,
        test: { name: "alone", include: alone, globalSetup: ["test/support/global-setup.ts"], sequence: { groupOrder: 1 } },
      },
    ],
  },
});
