/**
 * Locating the real Binance data for tests. The root comes from env PERPSOURCE_DATA (resolved against the
 * working directory) and must contain `futures/um` (data.binance.vision layout, /work/shared/data/README.md).
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

/** The real-data root, or undefined when PERPSOURCE_DATA is unset or has no `futures/um`. */
export function realDataRoot(): string | undefined {
  const configured = process.env.PERPSOURCE_DATA;
  if (!configured) return undefined;
  const root = resolve(process.cwd(), configured);
  return existsSync(join(root, "futures", "um")) ? root : undefined;
}

/**
 * The real-data root for `what` (a test's description); when absent, warns `SKIPPED real-data: <what> …` and
 * returns undefined, for `describe.skipIf(!root)`.
 */
export function requireRealData(what: string): string | undefined {
  const root = realDataRoot();
  if (!root) {
    console.warn(
      `SKIPPED real-data: ${what} (set PERPSOURCE_DATA to the data root that contains futures/um, ` +
        `e.g. ../shared/data/binance)`,
    );
  }
  return root;
}
