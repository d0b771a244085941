import { spawn } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/load.ts";
import { requireRealData } from "./support/real-data.ts";

const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));
const BUNDLED_JSON = fileURLToPath(new URL("../src/domain/instruments.snapshot.json", import.meta.url));

/** Runs the CLI without blocking this process (the test's HTTP server must keep answering). */
function perpsource(args: string[], env: Record<string, string> = {}) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PERPSOURCE_")));
  const cwd = mkdtempSync(join(tmpdir(), "perpsource-instruments-"));
  return new Promise<{ code: number | null; stdout: string; stderr: string; cwd: string }>((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...base, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (code) => done({ code, stdout, stderr, cwd }));
  });
}

/** What the local exchangeInfo endpoint answers, by test. */
let answer: { status: number; body: string } = { status: 200, body: "" };
const requested: string[] = [];
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    requested.push(req.url ?? "");
    if (req.url !== "/fapi/v1/exchangeInfo") {
      res.writeHead(404).end('{"code":-5000,"msg":"Path not found"}');
      return;
    }
    res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body);
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((closed) => server.close(closed));
});

describe("perpsource instruments refresh (against a local HTTP server)", () => {
  const refused = async (status: number, body: string) => {
    answer = { status, body };
    const dest = join(mkdtempSync(join(tmpdir(), "perpsource-dest-")), "exchangeInfo");
    const r = await perpsource(["instruments", "refresh", "--dest", dest, "--base-url", baseUrl]);
    expect(r.stdout).toBe("");
    expect(existsSync(dest) ? readdirSync(dest) : []).toEqual([]);
    return r;
  };
  const url = () => `${baseUrl}/fapi/v1/exchangeInfo`;

  it("saves the bundled snapshot's body verbatim, dated by its serverTime, under the data root by default", async () => {
    answer = { status: 200, body: readFileSync(BUNDLED_JSON, "utf8") };
    const data = mkdtempSync(join(tmpdir(), "perpsource-data-"));
    const r = await perpsource(["instruments", "refresh", "--base-url", `${baseUrl}/`], {
      PERPSOURCE_DATA: data,
    });
    const saved = join(data, "futures", "um", "exchangeInfo", "exchangeInfo-2025-12-24.json");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${saved} (660 symbols, snapshot of 2025-12-24)`);
    expect(readFileSync(saved, "utf8")).toBe(answer.body);
    expect(readdirSync(join(data, "futures", "um", "exchangeInfo"))).toEqual([
      "exchangeInfo-2025-12-24.json",
    ]);
  });

  it("HTTP 500: exit 1 with the status and the body, nothing written", async () => {
    const r = await refused(500, '{"code":-1000,"msg":"An unknown error occurred"}');
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `error: GET ${url()}: HTTP 500 Internal Server Error: {"code":-1000,"msg":"An unknown error occurred"}`,
    );
  });

  it("a body that is not JSON: exit 1 naming the URL and the parser's reason", async () => {
    const r = await refused(200, "<html>maintenance</html>");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: invalid exchangeInfo in response of GET ${url()}: not valid JSON (Unexpected token '<'`,
    );
  });

  it("JSON of the wrong shape: exit 1 naming the JSON path", async () => {
    const r = await refused(200, JSON.stringify({ serverTime: "soon", rateLimits: [], symbols: {} }));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `error: invalid exchangeInfo in response of GET ${url()}: serverTime: expected a non-negative integer; ` +
        "symbols: expected a list of symbols",
    );
  });

  it("an unreachable server: exit 1 naming the URL", async () => {
    const r = await perpsource([
      "instruments",
      "refresh",
      "--dest",
      mkdtempSync(join(tmpdir(), "perpsource-dest-")),
      "--base-url",
      "http://127.0.0.1:1",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: GET http://127.0.0.1:1/fapi/v1/exchangeInfo failed: fetch failed");
  });
});

describe("perpsource instruments show and --instruments FILE", () => {
  it("prints a bundled symbol's instrument as JSON", async () => {
    const r = await perpsource(["instruments", "show", "dogeusdt"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      symbol: "DOGEUSDT",
      contractType: "PERPETUAL",
      baseAsset: "DOGE",
    });
  });

  it("an unknown symbol names the snapshot's date and source, exit 1", async () => {
    const r = await perpsource(["instruments", "show", "FOOUSDT"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      "error: unknown symbol FOOUSDT in the exchangeInfo snapshot of 2025-12-24 (bundled); " +
        "refresh with perpsource instruments refresh or pass --instruments FILE",
    );
  });

  it("--instruments and PERPSOURCE_INSTRUMENTS replace the bundled snapshot", async () => {
    const json = JSON.parse(readFileSync(BUNDLED_JSON, "utf8"));
    const dir = mkdtempSync(join(tmpdir(), "perpsource-ei-"));
    const file = join(dir, "one.json");
    writeFileSync(
      file,
      JSON.stringify({ ...json, serverTime: Date.UTC(2024, 5, 30), symbols: [json.symbols[1]] }),
    );
    const flag = await perpsource(["--instruments", file, "instruments", "show", "ETHUSDT"]);
    expect(flag.code).toBe(0);
    expect(JSON.parse(flag.stdout).symbol).toBe("ETHUSDT");
    const env = await perpsource(["instruments", "show", "BTCUSDT"], { PERPSOURCE_INSTRUMENTS: file });
    expect(env.code).toBe(1);
    expect(env.stderr).toContain(
      `unknown symbol BTCUSDT in the exchangeInfo snapshot of 2024-06-30 (file ${file})`,
    );
  });

  it("a bad --instruments file is a configuration error naming the file and the JSON path, exit 2", async () => {
    const json = JSON.parse(readFileSync(BUNDLED_JSON, "utf8"));
    json.symbols[0].filters[1].stepSize = "-1";
    const file = join(mkdtempSync(join(tmpdir(), "perpsource-ei-")), "bad.json");
    writeFileSync(file, JSON.stringify(json));
    const r = await perpsource(["--instruments", file, "instruments", "show", "BTCUSDT"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `error: invalid config: instruments: invalid exchangeInfo in file ${file}: ` +
        'symbols[0] (BTCUSDT).filters[1].stepSize: expected a decimal string such as "0.10"',
    );
    expect(r.stdout).toBe("");
  });
});

describe("the instruments config key", () => {
  it("comes from the file, PERPSOURCE_INSTRUMENTS or --instruments, resolved against cwd", () => {
    const cwd = mkdtempSync(join(tmpdir(), "perpsource-cfg-"));
    const configFile = join(cwd, "perpsource.config.json");
    writeFileSync(configFile, JSON.stringify({ instruments: "from-file.json" }));
    const load = (env: Record<string, string>, flags: Record<string, unknown>) =>
      loadConfig({ env, flags, cwd }).instruments;
    expect(load({}, {})).toBe(join(cwd, "from-file.json"));
    expect(load({ PERPSOURCE_INSTRUMENTS: "env.json" }, {})).toBe(join(cwd, "env.json"));
    expect(load({ PERPSOURCE_INSTRUMENTS: "env.json" }, { instruments: "/abs/flag.json" })).toBe(
      "/abs/flag.json",
    );
    writeFileSync(configFile, JSON.stringify({ instruments: 7 }));
    expect(() => load({}, {})).toThrow(
      `invalid config: instruments (from file ${configFile}): expected an exchangeInfo JSON file`,
    );
    writeFileSync(configFile, "{}");
    expect(load({}, {})).toBeUndefined();
  });
});

const root = requireRealData("instruments refresh of a shared raw exchangeInfo response");

describe.skipIf(!root)("instruments refresh of a real raw response", () => {
  it("serves exchangeInfo-2025-10-29.json and saves it byte for byte", async () => {
    answer = {
      status: 200,
      body: readFileSync(
        join(root!, "futures", "um", "exchangeInfo", "exchangeInfo-2025-10-29.json"),
        "utf8",
      ),
    };
    const dest = mkdtempSync(join(tmpdir(), "perpsource-dest-"));
    const r = await perpsource(["instruments", "refresh", "--dest", dest, "--base-url", baseUrl]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(
      `${join(dest, "exchangeInfo-2025-10-29.json")} (632 symbols, snapshot of 2025-10-29)`,
    );
    expect(readFileSync(join(dest, "exchangeInfo-2025-10-29.json"), "utf8")).toBe(answer.body);
    const shown = await perpsource([
      "--instruments",
      join(dest, "exchangeInfo-2025-10-29.json"),
      "instruments",
      "show",
      "FILUSDT",
    ]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ minPrice: "1.381", maxNumAlgoOrders: 10 });
  });

  it("a backtest of a perpetual outside the ten of the old capture runs given its klines", async () => {
    // FILUSDT's real 2023-08 1m klines filed as ATOMUSDT (both tick 0.001 in the bundled snapshot).
    const data = mkdtempSync(join(tmpdir(), "perpsource-data-"));
    const dir = join(data, "futures", "um", "monthly", "klines", "ATOMUSDT", "1m");
    mkdirSync(dir, { recursive: true });
    const fil = join(root!, "futures", "um", "monthly", "klines", "FILUSDT", "1m", "FILUSDT-1m-2023-08.csv");
    copyFileSync(fil, join(dir, "ATOMUSDT-1m-2023-08.csv"));
    const args = ["backtest", "--symbols", "ATOMUSDT", "--from", "2023-08-01", "--to", "2023-08-03"];
    const r = await perpsource([...args, "--data", data, "--store", "memory:", "--json"]);
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ bars: 3 * 1440 });

    const json = JSON.parse(readFileSync(BUNDLED_JSON, "utf8"));
    const file = join(data, "exchangeInfo-btc-only.json");
    writeFileSync(file, JSON.stringify({ ...json, symbols: [json.symbols[0]] }));
    const without = await perpsource([...args, "--data", data, "--store", "memory:", "--instruments", file]);
    expect(without.code).toBe(1);
    expect(without.stderr).toContain(
      `unknown symbol ATOMUSDT in the exchangeInfo snapshot of 2025-12-24 (file ${file})`,
    );
  });
});
