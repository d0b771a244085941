import { defineConfig } from "vitest/config";

const common = { testTimeout: 120_000, hookTimeout: 120_000, pool: "forks" } as const;

/**
 * Two projects: every suite, in parallel; then the HTTP latency test alone (`sequence.groupOrder` runs the
 * second group after the first), so its p99 bound measures the server, not the other suites sharing the cores.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...common,
          name: "suites",
          include: ["test/**/*.test.ts"],
          exclude: ["test/http-load.test.ts"],
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...common,
          name: "latency",
          include: ["test/http-load.test.ts"],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
