/**
 * The pure parts of the Binance REST client: the rate-limit budget (windows from the real exchangeInfo
 * rateLimits, header corrections, 429 backoff, bans) and the classification of failed requests (§5.1–§5.2).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classifyError, redact } from "../src/adapters/binance/errors.ts";
import { type RateLimit, RateLimiter } from "../src/adapters/binance/rate-limiter.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("exchangeInfo rateLimits");
const order = { weight: 0, orders: 1 };
const read = (weight: number) => ({ weight, orders: 0 });
/** A minute boundary. */
const T = 1_735_689_600_000;

describe.skipIf(!root)("RateLimiter on the real exchangeInfo rateLimits", () => {
  const dir = root ? join(root, "futures", "um", "exchangeInfo") : "";
  const files = root ? readdirSync(dir).filter((f) => f.endsWith(".json")) : [];

  it("never lets more than headroom × limit through in any window (property, every snapshot)", () => {
    for (const file of files) {
      const limits = JSON.parse(readFileSync(join(dir, file), "utf8")).rateLimits as RateLimit[];
      const weight = limits.find((l) => l.rateLimitType === "REQUEST_WEIGHT")!;
      const orders10s = limits.find((l) => l.rateLimitType === "ORDERS" && l.interval === "SECOND")!;
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              gap: fc.integer({ min: 0, max: 300 }),
              weight: fc.integer({ min: 0, max: 40 }),
              orders: fc.integer({ min: 0, max: 5 }),
            }),
            {
              maxLength: 400,
            },
          ),
          (requests) => {
            const limiter = new RateLimiter(limits);
            let now = T;
            const sent: { at: number; weight: number; orders: number }[] = [];
            for (const r of requests) {
              now += r.gap;
              now += limiter.delay(r, now);
              expect(limiter.delay(r, now)).toBe(0);
              limiter.record(r, now);
              sent.push({ at: now, ...r });
            }
            const inWindow = (ms: number, key: "weight" | "orders") => {
              const sums = new Map<number, number>();
              for (const s of sent)
                sums.set(s.at - (s.at % ms), (sums.get(s.at - (s.at % ms)) ?? 0) + s[key]);
              return Math.max(0, ...sums.values());
            };
            expect(inWindow(60_000, "weight")).toBeLessThanOrEqual(Math.floor(weight.limit * 0.9));
            expect(inWindow(orders10s.intervalNum * 1000, "orders")).toBeLessThanOrEqual(
              Math.floor(orders10s.limit * 0.9),
            );
          },
        ),
        { numRuns: 50 },
      );
    }
  });
});

describe("RateLimiter", () => {
  const limits: RateLimit[] = [
    { rateLimitType: "REQUEST_WEIGHT", interval: "MINUTE", intervalNum: 1, limit: 2400 },
    { rateLimitType: "ORDERS", interval: "SECOND", intervalNum: 10, limit: 300 },
    { rateLimitType: "ORDERS", interval: "MINUTE", intervalNum: 1, limit: 1200 },
  ];

  it("takes the server's counts from the headers: a weight near the limit waits for the next minute", () => {
    const limiter = new RateLimiter(limits);
    expect(limiter.delay(read(20), T + 15_000)).toBe(0);
    limiter.observe({ "x-mbx-used-weight-1m": "2150", "x-mbx-order-count-10s": "270" }, T + 15_000);
    expect(limiter.delay(read(20), T + 15_000)).toBe(45_000);
    expect(limiter.delay(read(5), T + 15_000)).toBe(0);
    expect(limiter.delay(order, T + 15_000)).toBe(5_000); // 270 + 1 > 0.9 × 300 until the 10 s window rolls
    expect(limiter.delay(order, T + 20_000)).toBe(0);
    expect(limiter.usage(T + 15_000)["REQUEST_WEIGHT/60000ms"]).toBe("2150/2400");
  });

  it("backs off exponentially on repeated 429s, or until Retry-After, and starts over after a success", () => {
    const limiter = new RateLimiter(limits, { backoffBaseMs: 1_000 });
    limiter.tooManyRequests(T);
    expect(limiter.delay(read(1), T)).toBe(1_000);
    limiter.tooManyRequests(T);
    expect(limiter.delay(read(1), T)).toBe(2_000);
    limiter.tooManyRequests(T, T + 7_000);
    expect(limiter.delay(read(1), T)).toBe(7_000);
    limiter.succeeded();
    limiter.tooManyRequests(T + 7_000);
    expect(limiter.delay(read(1), T + 7_000)).toBe(1_000);
  });

  it("keeps a ban until its end", () => {
    const limiter = new RateLimiter(limits);
    limiter.ban(T + 120_000);
    expect(limiter.bannedUntil(T)).toBe(T + 120_000);
    expect(limiter.bannedUntil(T + 120_000)).toBeUndefined();
  });

  it("refuses an unknown limit", () => {
    expect(
      () => new RateLimiter([{ rateLimitType: "ORDERS", interval: "WEEK", intervalNum: 1, limit: 1 }]),
    ).toThrow(/exchangeInfo.rateLimits: unknown limit/);
  });
});

describe("classifyError", () => {
  const secrets = ["myApiKey1234", "mySecret5678"];
  const http = (status: number, data: unknown, headers: Record<string, string> = {}) => ({
    response: { status, data, headers },
  });
  const cases: [string, unknown, string, number][] = [
    ["a rejection", http(400, { code: -2019, msg: "Margin is insufficient." }), "rejected", -2019],
    ["429", http(429, { code: -1003, msg: "Too many requests." }), "rateLimited", -1003],
    [
      "418",
      http(418, { code: -1003, msg: "Way too many requests; IP banned until 1700000000000." }),
      "banned",
      -1003,
    ],
    ["-1021", http(400, { code: -1021, msg: "Timestamp outside recvWindow." }), "clock", -1021],
    [
      "-1021 parsed losslessly (leverageBracket: numbers as text)",
      http(400, { code: "-1021", msg: "Timestamp for this request was 1000ms ahead of the server's time." }),
      "clock",
      -1021,
    ],
    [
      "503 unknown",
      http(503, { code: -1000, msg: "Unknown error, please check your request or try again later." }),
      "unknown",
      -1000,
    ],
    ["503 unavailable", http(503, "Service Unavailable."), "unavailable", 0],
    [
      "-1008",
      http(503, { code: -1008, msg: "Request throttled by system-level protection." }),
      "unavailable",
      -1008,
    ],
    ["-1006", http(400, { code: -1006, msg: "Unexpected response." }), "unknown", -1006],
    [
      "-1007",
      http(408, { code: -1007, msg: "Timeout waiting for response from backend server." }),
      "unknown",
      -1007,
    ],
    ["502", http(502, "<html>Bad Gateway</html>"), "unknown", 0],
    ["timeout", { code: "ECONNABORTED", message: "timeout of 10000ms exceeded" }, "unknown", 0],
    ["refused", { code: "ECONNREFUSED", message: "connect ECONNREFUSED" }, "unavailable", 0],
  ];
  for (const [name, raw, kind, code] of cases)
    it(`classifies ${name} as ${kind}`, () => {
      const e = classifyError(raw, "POST /fapi/v1/order", secrets, T);
      expect([e.kind, e.code]).toEqual([kind, code]);
    });

  it("parses the ban's end and a 429's Retry-After", () => {
    expect(classifyError(cases[2]![1], "x", secrets, T).until).toBe(1700000000000);
    expect(
      classifyError(http(429, { code: -1003, msg: "Too many" }, { "retry-after": "3" }), "x", secrets, T)
        .until,
    ).toBe(T + 3_000);
  });

  it("redacts the key, the secret and signatures from what it keeps", () => {
    const raw = {
      code: "ECONNRESET",
      message:
        "socket hang up at https://x/fapi/v1/order?symbol=BTCUSDT&signature=abcdef0123 with myApiKey1234",
      config: { headers: { "X-MBX-APIKEY": "myApiKey1234" } },
    };
    const e = classifyError(raw, "POST /fapi/v1/order", secrets, T);
    expect(e.message).not.toMatch(/myApiKey1234|abcdef0123/);
    expect(e.message).toContain("signature=***");
    expect(JSON.stringify(e)).not.toContain("myApiKey1234");
    expect(redact("k=mySecret5678&x=1", secrets)).toBe("k=***&x=1");
  });
});
