/**
 * Operational logging of the REST client (issue 7 item 8): the budget's use is logged as pino JSON at most once
 * per `usageLogEveryMs` of the venue's clock, with the server's counts of `X-MBX-USED-WEIGHT-1M` folded in.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BinanceRest } from "../src/adapters/binance/rest.ts";

const server = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "application/json", "x-mbx-used-weight-1m": "37" });
  res.end(JSON.stringify({ serverTime: 1_735_689_615_000 }));
});
let url = "";
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("BinanceRest usage logging", () => {
  it("logs 'rate limit usage' with each window's used/limit, once per usageLogEveryMs of its clock", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    let now = 1_735_689_615_000; // 15 s into a minute
    const rest = new BinanceRest({
      restUrl: url,
      apiKey: "k",
      apiSecret: "s",
      logger,
      clock: () => now,
      usageLogEveryMs: 60_000,
    });
    const time = () =>
      rest.request("GET /fapi/v1/time", { weight: 1, orders: 0 }, (c) => c.getServerTime(), {
        idempotent: true,
      });
    await time();
    now += 10_000;
    await time();
    now += 50_000;
    await time();
    const usage = lines.filter((l) => l["msg"] === "rate limit usage");
    expect(usage.map((l) => l["usage"])).toEqual([
      { "REQUEST_WEIGHT/60000ms": "37/2400", "ORDERS/10000ms": "0/300", "ORDERS/60000ms": "0/1200" },
      { "REQUEST_WEIGHT/60000ms": "37/2400", "ORDERS/10000ms": "0/300", "ORDERS/60000ms": "0/1200" },
    ]);
    expect(usage).toHaveLength(2);
  });
});
