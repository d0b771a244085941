/**
 * `perpsource run` as a user runs it: its usage errors (exit 2, naming what is wrong) and, against
 * `perpsource exchange-sim --lockstep` on real data, a short testnet run that trades and completes, then the
 * same command refused on the completed run's store. The run signs with an Ed25519 key file
 * (BINANCE_PRIVATE_KEY_FILE), the double checks with the public key file.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { requireRealData } from "./support/real-data.ts";

const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));
const root = requireRealData(
  "perpsource run --mode testnet against exchange-sim (BTCUSDT, ETHUSDT 2025-05-05)",
);
const KEYS = { BINANCE_API_KEY: "cli-key", BINANCE_API_SECRET: "cli-secret" };

/** An Ed25519 key pair in two PEM files: the client's environment (private key) and the double's (public key). */
function ed25519KeyFiles(): { client: Record<string, string>; double: Record<string, string>; pem: string } {
  const dir = mkdtempSync(join(tmpdir(), "perpsource-keys-"));
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  writeFileSync(join(dir, "private.pem"), pem);
  writeFileSync(join(dir, "public.pem"), publicKey.export({ type: "spki", format: "pem" }).toString());
  const apiKey = { BINANCE_API_KEY: "cli-ed25519-key" };
  return {
    client: { ...apiKey, BINANCE_PRIVATE_KEY_FILE: join(dir, "private.pem") },
    double: { ...apiKey, BINANCE_PRIVATE_KEY_FILE: join(dir, "public.pem") },
    pem,
  };
}

/** The environment without PERPSOURCE_* and BINANCE_* variables, plus `extra`. */
function env(extra: Record<string, string> = {}): Record<string, string> {
  const clean = Object.entries(process.env).filter(
    ([k]) => !k.startsWith("PERPSOURCE_") && !k.startsWith("BINANCE_"),
  ) as [string, string][];
  return { ...Object.fromEntries(clean), ...extra };
}

function perpsource(args: string[], extra: Record<string, string> = {}) {
  const cwd = mkdtempSync(join(tmpdir(), "perpsource-run-"));
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env: env(extra), encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let sim: ChildProcess | undefined;
afterEach(() => {
  sim?.kill("SIGTERM");
  sim = undefined;
});

/**
 * Starts `exchange-sim --lockstep` on a free port with the key pair of `keys` (and `extra` arguments, e.g.
 * `--faults`); resolves to its URL.
 */
function startDouble(keys: Record<string, string>, extra: string[] = []): Promise<string> {
  sim = spawn(
    process.execPath,
    [BIN, "exchange-sim", "--port", "0", "--data", root!, "--symbols", "BTCUSDT,ETHUSDT"].concat([
      "--from",
      "2025-05-05",
      "--lockstep",
      "--log-level",
      "warn",
      ...extra,
    ]),
    { env: env(keys), stdio: ["ignore", "pipe", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    sim!.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (url) resolve(url);
    });
    sim!.on("exit", (code) => reject(new Error(`exchange-sim exited with ${code}`)));
  });
}

describe("perpsource run", () => {
  it("refuses a bad mode, live without --confirm-live, testnet without (or with unusable) keys and a bad --until (exit 2)", () => {
    expect(perpsource(["run", "--mode", "demo"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--mode must be paper, testnet or live, got "demo"'),
    });
    expect(perpsource(["run", "--mode", "live"], KEYS)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("add --confirm-live"),
    });
    expect(perpsource(["run", "--mode", "testnet"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(
        "invalid config: BINANCE_API_KEY (from env): not set: --mode testnet needs an API key pair",
      ),
    });
    expect(
      perpsource(["run", "--mode", "testnet"], { ...KEYS, BINANCE_PRIVATE_KEY_FILE: "/nonexistent.pem" }),
    ).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(
        "BINANCE_API_SECRET and BINANCE_PRIVATE_KEY_FILE (from env): both set; set one signing key",
      ),
    });
    expect(
      perpsource(["run", "--mode", "testnet"], {
        BINANCE_API_KEY: "k",
        BINANCE_PRIVATE_KEY_FILE: "/nonexistent.pem",
      }),
    ).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(
        "BINANCE_PRIVATE_KEY_FILE (from env): /nonexistent.pem: cannot read the file: ENOENT",
      ),
    });
    expect(perpsource(["run", "--mode", "paper", "--until", "tomorrow"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(
        '--until must be a UTC day (YYYY-MM-DD, inclusive) or an ISO time with a zone, got "tomorrow"',
      ),
    });
  });

  it.skipIf(!root)(
    "trades on the double until --until, then refuses to run the completed run again",
    async () => {
      const keys = ed25519KeyFiles();
      const url = await startDouble(keys.double);
      const store = `sqlite:${join(mkdtempSync(join(tmpdir(), "perpsource-run-store-")), "live.sqlite")}`;
      const args = ["run", "--mode", "testnet", "--rest-url", url, "--ws-url", url.replace("http", "ws")]
        .concat(["--symbols", "BTCUSDT,ETHUSDT", "--store", store, "--until", "2025-05-05T12:00:00Z"])
        .concat(["--lockstep", "--warmup-bars", "0", "--json", "--log-level", "error"]);
      const first = perpsource(args, keys.client);
      expect(first.code, first.stderr).toBe(0);
      const summary = JSON.parse(first.stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
      expect(summary).toMatchObject({ mode: "testnet", completed: true, continued: false, bars: 2 * 720 });
      expect(summary["fills"]).toBeGreaterThan(0);
      expect(summary["eventLogSha256"]).toMatch(/^[0-9a-f]{64}$/);
      expect(first.stderr).not.toContain(keys.pem.split("\n")[1]);

      const again = perpsource(args, keys.client);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(`run ${String(summary["runId"])} already completed`);
    },
    300_000,
  );

  it.skipIf(!root)(
    "run --serve 0: /metrics counts the WebSocket reconnects of rotated streams and the store's appends",
    async () => {
      const keys = ed25519KeyFiles();
      const url = await startDouble(keys.double, ["--faults", "rotate-ws:every=90"]);
      const store = `sqlite:${join(mkdtempSync(join(tmpdir(), "perpsource-run-store-")), "served.sqlite")}`;
      const args = ["run", "--mode", "testnet", "--rest-url", url, "--ws-url", url.replace("http", "ws")]
        .concat(["--symbols", "BTCUSDT,ETHUSDT", "--store", store, "--until", "2025-05-05T02:00:00Z"])
        .concat(["--lockstep", "--warmup-bars", "0", "--json", "--log-level", "error", "--serve", "0"]);
      const run = spawn(process.execPath, [BIN, ...args], { env: env(keys.client) });
      let stdout = "";
      let stderr = "";
      run.stdout.on("data", (c: Buffer) => {
        stdout += c.toString();
      });
      run.stderr.on("data", (c: Buffer) => {
        stderr += c.toString();
      });
      const exited = new Promise<number | null>((resolve) => run.on("exit", resolve));
      try {
        // --json: the banner goes to stderr, the summary (one line) to stdout once the run completes.
        const summary = await new Promise<Record<string, unknown>>((resolve, reject) => {
          run.stdout.on("data", () => {
            if (stdout.endsWith("\n")) resolve(JSON.parse(stdout.trim()) as Record<string, unknown>);
          });
          run.on("exit", (code) => reject(new Error(`run exited with ${code}: ${stderr}`)));
        });
        expect(summary).toMatchObject({ completed: true, bars: 2 * 120 });
        const served = /serving on (http:\/\/\S+)/.exec(stderr)?.[1];
        expect(served).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        const text = await (await fetch(`${served}/metrics`)).text();
        const value = (name: string, labels = "") =>
          Number(
            text
              .split("\n")
              .find((l) => l.startsWith(`${name}${labels} `))
              ?.split(" ")
              .at(-1),
          );
        const status = (await (await fetch(`${url}/sim/v1/status`)).json()) as {
          faults: Record<string, number>;
        };
        const rotations = status.faults["rotate-ws"]!;
        expect(rotations).toBeGreaterThanOrEqual(2);
        // Each rotation closes the market and the user-data connection; each is re-established once.
        for (const stream of ["market", "user"]) {
          const reconnects = value("perpsource_ws_reconnects_total", `{stream="${stream}"}`);
          expect(reconnects, stream).toBeGreaterThanOrEqual(rotations - 1);
          expect(reconnects, stream).toBeLessThanOrEqual(rotations);
        }
        // This process appended the whole log (as the log's own counts say), each append timed.
        const logged = text
          .split("\n")
          .filter((l) => l.startsWith("perpsource_events_total{"))
          .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
        expect(logged).toBe(summary["events"]);
        expect(value("perpsource_events_appended_total")).toBe(logged);
        expect(value("perpsource_store_write_duration_seconds_count", '{op="append"}')).toBeGreaterThan(0);
      } finally {
        run.kill("SIGINT");
        expect(await exited).toBe(0);
      }
    },
    300_000,
  );
});
