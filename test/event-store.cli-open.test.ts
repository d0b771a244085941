/**
 * How the CLI opens stores: serve and replay read-only, refusing a file that is not a perpsource store
 * without modifying it; backtest --overwrite never deletes such a file either.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));

function perpsource(args: string[], cwd: string) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PERPSOURCE_")));
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env, encoding: "utf8", timeout: 20_000 });
  return { code: r.status, stderr: r.stderr };
}

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe("the CLI opens stores without writing to files that are not perpsource stores", () => {
  it("serve, replay and backtest --overwrite refuse a foreign SQLite file and leave its bytes unchanged", () => {
    const cwd = mkdtempSync(join(tmpdir(), "perpsource-cli-open-"));
    const file = join(cwd, "crm.sqlite");
    const db = new Database(file);
    db.exec(
      "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES (1, 'a')",
    );
    db.close();
    const before = sha256(file);
    const message = `${file} is not a perpsource event store: it is a SQLite database without an events table (tables: customers)`;
    for (const args of [
      ["serve", "--store", "sqlite:crm.sqlite", "--port", "18089"],
      ["replay", "--verify", "--store", "sqlite:crm.sqlite", "--data", cwd],
      ["backtest", "--store", "sqlite:crm.sqlite", "--overwrite", "--data", cwd],
    ]) {
      const r = perpsource(args, cwd);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr).toContain(message);
      expect(sha256(file)).toBe(before);
      expect(existsSync(`${file}-wal`)).toBe(false);
    }
  }, 60_000);
});
