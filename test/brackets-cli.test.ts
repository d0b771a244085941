import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/load.ts";
import { SPEC_BTC_BRACKETS } from "./support/btc-brackets.ts";

const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));
const API_KEY = "test-key-vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const API_SECRET = "test-secret-NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
/** Binance's server time the local endpoint answers: 2026-06-01 12:00 UTC. */
const SERVER_TIME = Date.UTC(2026, 5, 1, 12);

/** Runs the CLI without blocking this process (the test's HTTP server must keep answering). */
function perpsource(args: string[], env: Record<string, string> = {}) {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("PERPSOURCE_") && !k.startsWith("BINANCE_")),
  );
  const cwd = mkdtempSync(join(tmpdir(), "perpsource-brackets-cli-"));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...base, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

const KEYS = { BINANCE_API_KEY: API_KEY, BINANCE_API_SECRET: API_SECRET };

/** A raw leverageBracket body as Binance writes it (numbers), two symbols. */
const BODY = JSON.stringify([
  { symbol: "BTCUSDT", notionalCoef: 1.5, brackets: SPEC_BTC_BRACKETS.map(numbers) },
  { symbol: "ETHUSDT", brackets: SPEC_BTC_BRACKETS.slice(0, 3).map(numbers) },
]);
function numbers(b: (typeof SPEC_BTC_BRACKETS)[number]) {
  return {
    ...b,
    notionalCap: +b.notionalCap,
    notionalFloor: +b.notionalFloor,
    maintMarginRatio: +b.maintMarginRatio,
    cum: +b.cum,
  };
}

/** What the local leverageBracket endpoint answers when the request is signed right, by test. */
let answer: { status: number; body: string } = { status: 200, body: BODY };
let timeAnswer: { status: number; body: string } = {
  status: 200,
  body: JSON.stringify({ serverTime: SERVER_TIME }),
};
const requests: { path: string; query: URLSearchParams; apiKey: string | undefined }[] = [];
let server: Server;
let restUrl: string;

/** Binance's checks of a SIGNED request: the key header, a timestamp within recvWindow, the HMAC of the query. */
function signatureProblem(req: IncomingMessage, url: URL): string | undefined {
  if (req.headers["x-mbx-apikey"] !== API_KEY)
    return '{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}';
  const signature = url.searchParams.get("signature");
  const query = url.search.slice(1).replace(/&signature=[0-9a-f]+$/, "");
  const expected = createHmac("sha256", API_SECRET).update(query).digest("hex");
  if (signature !== expected) return '{"code":-1022,"msg":"Signature for this request is not valid."}';
  const timestamp = Number(url.searchParams.get("timestamp"));
  const recvWindow = Number(url.searchParams.get("recvWindow") ?? 5000);
  if (!(Math.abs(timestamp - SERVER_TIME) <= recvWindow))
    return `{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}`;
  return undefined;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const apiKey = req.headers["x-mbx-apikey"] as string | undefined;
    requests.push({ path: url.pathname, query: url.searchParams, apiKey });
    if (url.pathname === "/fapi/v1/time") {
      res.writeHead(timeAnswer.status, { "content-type": "application/json" }).end(timeAnswer.body);
      return;
    }
    if (url.pathname !== "/fapi/v1/leverageBracket") {
      res.writeHead(404).end('{"code":-5000,"msg":"Path not found"}');
      return;
    }
    const problem = signatureProblem(req, url);
    if (problem !== undefined) {
      res
        .writeHead(problem.includes("-2015") ? 401 : 400, { "content-type": "application/json" })
        .end(problem);
      return;
    }
    res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body);
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  restUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((closed) => server.close(closed));
});

const noKeys = (r: { stdout: string; stderr: string }) => {
  for (const secret of [API_KEY, API_SECRET]) {
    expect(r.stdout).not.toContain(secret);
    expect(r.stderr).not.toContain(secret);
  }
};

describe("perpsource brackets refresh (signed, against a local HTTP server that checks the signature)", () => {
  it("signs with the server's time, saves the body verbatim as leverageBracket-<server day>.json under the data root", async () => {
    answer = { status: 200, body: BODY };
    const data = mkdtempSync(join(tmpdir(), "perpsource-data-"));
    requests.length = 0;
    const r = await perpsource(["brackets", "refresh", "--rest-url", `${restUrl}/`, "--log-level", "debug"], {
      ...KEYS,
      PERPSOURCE_DATA: data,
    });
    const saved = join(data, "futures", "um", "leverageBracket", "leverageBracket-2026-06-01.json");
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${saved} (2 symbols, snapshot of 2026-06-01)`);
    expect(readFileSync(saved, "utf8")).toBe(BODY);
    expect(requests.map((q) => q.path)).toEqual(["/fapi/v1/time", "/fapi/v1/leverageBracket"]);
    expect(requests[1]!.query.get("timestamp")).toBe(String(SERVER_TIME));
    noKeys(r);

    const shown = await perpsource(["--brackets", saved, "brackets", "show", "btcusdt"]);
    expect(shown.code).toBe(0);
    expect(shown.stdout.split("\n").slice(0, 3)).toEqual([
      `BTCUSDT leverage brackets (USDT notional, floor < notional ≤ cap; snapshot of 2026-06-01, file ${saved}, notionalCoef 1.5)`,
      "bracket  notional floor  notional cap  max leverage     MMR        cum",
      "1                     0         50000           125   0.004          0",
    ]);
  });

  it("missing keys: a configuration error naming the variables, exit 2, no request", async () => {
    requests.length = 0;
    const none = await perpsource(["brackets", "refresh", "--rest-url", restUrl]);
    expect(none.code).toBe(2);
    expect(none.stderr.trim()).toBe(
      "error: invalid config: BINANCE_API_KEY (from env): not set: GET /fapi/v1/leverageBracket, a signed " +
        "(USER_DATA) endpoint (read permission is enough), needs an API key pair (BINANCE_API_KEY with " +
        "BINANCE_API_SECRET or BINANCE_PRIVATE_KEY_FILE)",
    );
    const noSecret = await perpsource(["brackets", "refresh", "--rest-url", restUrl], {
      BINANCE_API_KEY: API_KEY,
      BINANCE_API_SECRET: "",
    });
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toContain(
      "error: invalid config: BINANCE_API_SECRET or BINANCE_PRIVATE_KEY_FILE (from env): not set (BINANCE_API_KEY is)",
    );
    noKeys(noSecret);
    expect(requests).toEqual([]);
  });

  it("a wrong secret: Binance's -1022 answer, exit 1, nothing written, no key in the message", async () => {
    const out = mkdtempSync(join(tmpdir(), "perpsource-out-"));
    const r = await perpsource(["brackets", "refresh", "--out", out, "--rest-url", restUrl], {
      BINANCE_API_KEY: API_KEY,
      BINANCE_API_SECRET: `${API_SECRET}x`,
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `error: GET ${restUrl}/fapi/v1/leverageBracket: HTTP 400 Bad Request: ` +
        '{"code":-1022,"msg":"Signature for this request is not valid."}',
    );
    expect(readdirSync(out)).toEqual([]);
    noKeys(r);
  });

  it("a body breaking the cum rule: exit 1 naming the endpoint, the symbol and the bracket; nothing written", async () => {
    answer = { status: 200, body: BODY.replace('"cum":950', '"cum":951') };
    const out = join(mkdtempSync(join(tmpdir(), "perpsource-out-")), "brackets");
    const r = await perpsource(["brackets", "refresh", "--out", out, "--rest-url", restUrl], KEYS);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `error: invalid leverage brackets in response of GET ${restUrl}/fapi/v1/leverageBracket: BTCUSDT bracket 3: ` +
        "cum 951 ≠ notionalFloor × (MMR − previous MMR) + previous cum = 950",
    );
    expect(existsSync(out)).toBe(false);
  });

  it("a server time that is not one, and an unreachable server: exit 1 naming the URL", async () => {
    timeAnswer = { status: 200, body: "<html>maintenance</html>" };
    const r = await perpsource(["brackets", "refresh", "--out", tmpdir(), "--rest-url", restUrl], KEYS);
    timeAnswer = { status: 200, body: JSON.stringify({ serverTime: SERVER_TIME }) };
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `error: response of GET ${restUrl}/fapi/v1/time: expected { "serverTime": <ms> }, got <html>maintenance</html>`,
    );
    const down = await perpsource(["brackets", "refresh", "--rest-url", "http://127.0.0.1:1"], KEYS);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("error: GET http://127.0.0.1:1/fapi/v1/time failed: fetch failed");
  });
});

describe("perpsource brackets show and --brackets FILE", () => {
  it("prints the bundled brackets of a symbol as a table, or as JSON", async () => {
    const r = await perpsource(["brackets", "show", "ethusdt"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe(
      "ETHUSDT leverage brackets (USDT notional, floor < notional ≤ cap; snapshot of 2026-03-05, bundled)",
    );
    expect(lines[1]).toMatch(/^bracket\s+notional floor\s+notional cap\s+max leverage\s+MMR\s+cum$/);
    expect(lines[2]).toMatch(/^1\s+0\s+\d+\s+\d+\s+0\.\d+\s+0$/);
    const json = await perpsource(["brackets", "show", "ETHUSDT", "--json"]);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.symbol).toBe("ETHUSDT");
    expect(parsed.brackets).toHaveLength(lines.length - 2);
  });

  it("an unknown symbol names the snapshot's date and source, exit 1", async () => {
    const r = await perpsource(["brackets", "show", "FOOUSDT"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      "error: no leverage brackets for FOOUSDT in the snapshot of 2026-03-05 (bundled); " +
        "refresh with perpsource brackets refresh or pass --brackets FILE",
    );
  });

  it("PERPSOURCE_BRACKETS replaces the bundled snapshot; a bad file is a configuration error, exit 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "perpsource-lb-"));
    const file = join(dir, "leverageBracket-2026-06-01.json");
    writeFileSync(file, BODY);
    const env = await perpsource(["brackets", "show", "DOGEUSDT"], { PERPSOURCE_BRACKETS: file });
    expect(env.code).toBe(1);
    expect(env.stderr).toContain(
      `no leverage brackets for DOGEUSDT in the snapshot of 2026-06-01 (file ${file})`,
    );

    const bad = join(dir, "bad.json");
    writeFileSync(bad, BODY.replace('"maintMarginRatio":0.004', '"maintMarginRatio":"x"'));
    const r = await perpsource(["--brackets", bad, "brackets", "show", "BTCUSDT"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `error: invalid config: brackets: invalid leverage brackets in file ${bad}: ` +
        "[0] (BTCUSDT).brackets[0].maintMarginRatio: expected a number",
    );
    expect(r.stdout).toBe("");
  });

  it("the brackets config key comes from the file, PERPSOURCE_BRACKETS or --brackets, resolved against cwd", () => {
    const cwd = mkdtempSync(join(tmpdir(), "perpsource-cfg-"));
    writeFileSync(join(cwd, "perpsource.config.json"), JSON.stringify({ brackets: "from-file.json" }));
    const load = (env: Record<string, string>, flags: Record<string, unknown>) =>
      loadConfig({ env, flags, cwd }).brackets;
    expect(load({}, {})).toBe(join(cwd, "from-file.json"));
    expect(load({ PERPSOURCE_BRACKETS: "env.json" }, {})).toBe(join(cwd, "env.json"));
    expect(load({ PERPSOURCE_BRACKETS: "env.json" }, { brackets: "/abs/flag.json" })).toBe("/abs/flag.json");
  });
});
