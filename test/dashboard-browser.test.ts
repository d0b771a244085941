/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core) against a served real-data
 * backtest (BTCUSDT+ETHUSDT 2025-06-01..03, sma-cross) with a read and a control token: the page loads without
 * console errors, its charts hold as many points and its tables as many rows as the API returns, a fill opens its
 * decision trace, an event appended to the store appears within two seconds (SSE), `asOf` changes what is shown,
 * and the kill switch needs the control token.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventData } from "../src/events/catalog.ts";
import { deterministicEventId } from "../src/events/ids.ts";
import { streams } from "../src/events/streams.ts";
import {
  CHROMIUM,
  chromiumInstalled,
  type DashboardServer,
  launchChromium,
  serveBacktest,
} from "./support/dashboard.ts";
import { requireRealData } from "./support/real-data.ts";

// The browser globals page functions use (this file is type-checked without the DOM library).
interface Element {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
}
declare const document: { body: Element; getElementById(id: string): Element | null };
declare const window: Record<string, unknown>;
declare const sessionStorage: { setItem(key: string, value: string): void };

const WHAT = "the dashboard in Chromium on a BTCUSDT+ETHUSDT 2025-06-01..03 backtest";
const hasChromium = chromiumInstalled();
if (!hasChromium) {
  console.warn(
    `SKIPPED real-data: ${WHAT} needs Debian's chromium at ${CHROMIUM} (apt-get install chromium)`,
  );
}
const root = hasChromium ? requireRealData(WHAT) : undefined;
const READ = "read-token-dashboard-0123456789";
const OPEN_STATUSES = ["PENDING_NEW", "NEW", "TRIGGERING", "TRIGGERED", "PARTIALLY_FILLED"];

describe.skipIf(!root)("dashboard in a browser", () => {
  let served: DashboardServer;
  let browser: Browser;

  /** GET `path` from the API with the read token: the body and x-log-position. */
  const api = async (path: string) => {
    const res = await fetch(`${served.url}${path}`, { headers: { authorization: `Bearer ${READ}` } });
    expect(res.status, path).toBe(200);
    // biome-ignore lint/suspicious/noExplicitAny: JSON bodies checked by the http tests' schemas
    return { body: (await res.json()) as any, position: res.headers.get("x-log-position") };
  };

  /** A page with the read token in sessionStorage, its console errors collected, loaded and refreshed once. */
  const openPage = async (withToken = true) => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(e.message));
    if (withToken) {
      await page.addInitScript((token) => sessionStorage.setItem("perpsource.readToken", token), READ);
    }
    await page.goto(served.url);
    await refreshed(page, 1);
    return { page, errors, close: () => context.close() };
  };

  /** Waits until the page finished `n` refreshes in all. */
  const refreshed = (page: Page, n: number) =>
    page.waitForFunction((k) => Number(document.body.dataset.refreshed ?? 0) >= k, n, { timeout: 20_000 });
  const attr = (page: Page, selector: string, name: string) =>
    page.locator(selector).evaluate((el, n) => (el as unknown as Element).dataset[n] ?? null, name);
  const rows = (page: Page, table: string) => page.locator(`#${table} tbody tr:not(.empty)`);

  beforeAll(async () => {
    served = await serveBacktest({
      dataRoot: root!,
      symbols: ["BTCUSDT", "ETHUSDT"],
      from: "2025-06-01",
      to: "2025-06-03",
      readToken: READ,
    });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await served?.close();
  });

  it("loads without console errors; charts hold the API's points, tables its rows", async () => {
    const { page, errors, close } = await openPage();
    try {
      expect(await page.locator("#error").isHidden()).toBe(true);
      const pnl = await api("/pnl?interval=1m&maxPoints=2000");
      expect(pnl.body.equityCurve.points.length).toBeGreaterThan(100);
      expect(await attr(page, "#equity-chart", "points")).toBe(String(pnl.body.equityCurve.points.length));
      expect(await page.locator("#shown").textContent()).toBe(`live · position ${pnl.position}`);

      const symbol = await page.locator("#symbol").inputValue();
      const interval = await page.locator("#interval").inputValue();
      const bars = await api(`/bars?symbol=${symbol}&interval=${interval}&maxPoints=1500`);
      expect(bars.body.bars.length).toBeGreaterThan(100);
      expect(await attr(page, "#price-chart", "points")).toBe(String(bars.body.bars.length));

      const fills = (await api("/fills?limit=50")).body.fills;
      expect(fills.length).toBeGreaterThan(10);
      expect(await rows(page, "fills").count()).toBe(fills.length);
      expect(await rows(page, "fills").first().locator("td").nth(1).textContent()).toBe(
        fills[0].clientOrderId,
      );
      const positions = (await api("/positions")).body.positions;
      expect(await rows(page, "positions").count()).toBe(positions.length);
      const liquidation = positions.find(
        (p: { liquidationPrice: string | null }) => p.liquidationPrice !== null,
      );
      expect(await page.locator("#positions").textContent()).toContain(
        liquidation.liquidationPrice.slice(0, 6),
      );
      let open = 0;
      for (const status of OPEN_STATUSES)
        open += (await api(`/orders?status=${status}&limit=1000`)).body.orders.length;
      expect(await rows(page, "open-orders").count()).toBe(open);
      const bySymbol = (await api("/pnl/symbols")).body.symbols;
      expect(await rows(page, "symbol-pnl").count()).toBe(bySymbol.length);
      const runs = (await api("/runs")).body.runs;
      expect(await rows(page, "runs").count()).toBe(runs.length);
      expect(await rows(page, "runs").first().locator("td").first().textContent()).toBe(runs[0].runId);
      const risk = (await api("/risk")).body;
      expect(await rows(page, "limits").count()).toBe(risk.limits.length);
      expect(await page.locator("#trading-state").textContent()).toBe(risk.tradingState);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it("a click on a fill shows its order's decision trace: bar, factors, decision, risk, orders, fills", async () => {
    const { page, errors, close } = await openPage();
    try {
      const row = rows(page, "fills").first();
      const clientOrderId = await row.locator("td").nth(1).textContent();
      await row.click();
      await page.locator("#trace .step").first().waitFor();
      const decision = (await api(`/decisions?clientOrderId=${clientOrderId}`)).body.decisions[0];
      const titles = await page.locator("#trace .step h3").allTextContents();
      expect(titles).toEqual([
        `Input: ${decision.input.type}`,
        "Factors",
        `Decision: ${decision.decision.type}`,
        "Risk",
        "Orders",
        "Fills",
        ...decision.followUps.map((f: { type: string }) => f.type),
      ]);
      const factors = await page.locator("#trace .step").nth(1).locator("dt").allTextContents();
      expect(factors).toEqual(
        decision.factors === null ? ["none recorded"] : Object.keys(decision.factors.data),
      );
      const orders = await page.locator("#trace .step").nth(4).locator("dt").allTextContents();
      expect(orders).toEqual(decision.orders.map((o: { clientOrderId: string }) => o.clientOrderId));
      expect(await page.locator("#trace-title").textContent()).toBe(`of order ${clientOrderId}`);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it("without the read token the page asks for it, and serves once it is given", async () => {
    const { page, close } = await openPage(false);
    try {
      await page.locator("#token-form").waitFor({ state: "visible" });
      expect(await page.locator("#error").textContent()).toContain("missing or wrong bearer token");
      await page.locator("#read-token").fill(READ);
      await page.locator("#token-form button").click();
      await refreshed(page, 2);
      expect(await page.locator("#error").isHidden()).toBe(true);
      expect(await rows(page, "runs").count()).toBe(1);
    } finally {
      await close();
    }
  });

  it("an event appended to the store appears within two seconds (Server-Sent Events), no reload", async () => {
    const { page, errors, close } = await openPage();
    try {
      await page.locator("#live.live").waitFor();
      const before = await attr(page, "#shown", "position");
      await page.evaluate(() => {
        window["marker"] = true; // gone if the page reloads
      });
      const stream = streams.symbol("BTCUSDT");
      const revision = (await served.store.streamRevision(stream))!;
      const { body } = await api("/bars?symbol=BTCUSDT&interval=1m&maxPoints=20000");
      const last = body.bars.at(-1);
      const openTime = last.time + 60_000;
      const bar: EventData<"BarClosed"> = {
        symbol: "BTCUSDT",
        interval: "1m",
        openTime,
        closeTime: openTime + 59_999,
        open: last.close,
        high: last.close,
        low: last.close,
        close: last.close,
        volume: "1",
      };
      const appendedAt = Date.now();
      const { position } = await served.store.append(
        stream,
        [
          {
            eventId: deterministicEventId("dashboard-test", stream, revision + 1),
            type: "BarClosed",
            data: bar,
            metadata: { correlationId: "dashboard-test", causationId: "test", eventTime: bar.closeTime },
          },
        ],
        revision,
      );
      expect(String(position)).not.toBe(before);
      await page.waitForFunction(
        (p) => document.getElementById("shown")?.dataset.position === p,
        String(position),
        {
          timeout: 2_000,
        },
      );
      expect(Date.now() - appendedAt).toBeLessThan(2_000);
      expect(await page.evaluate(() => window["marker"])).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it("asOf: the views show the state as of a log position, live updates pause, Live returns", async () => {
    const { page, errors, close } = await openPage();
    try {
      const live = await api("/fills?limit=50");
      const head = Number(live.position);
      const fills = (await api("/fills?limit=1000")).body.fills;
      // the position of a fill in the middle of the run: fewer fills, a shorter equity curve
      const at = fills[Math.floor(fills.length / 2)].position;
      await page.locator("#asof-input").fill(String(at));
      await page.locator("#asof-form button[type=submit]").click();
      await page.waitForFunction(
        (p) => document.getElementById("shown")?.textContent === `as of position ${p}`,
        String(at),
      );
      const then = await api(`/pnl?interval=1m&maxPoints=2000&asOf=${at}`);
      expect(then.position).toBe(String(at));
      await page.waitForFunction(
        (n) => document.getElementById("equity-chart")?.dataset.points === n,
        String(then.body.equityCurve.points.length),
      );
      const thenFills = (await api(`/fills?limit=50&asOf=${at}`)).body.fills;
      expect(thenFills[0].position).toBe(at);
      expect(await rows(page, "fills").first().locator("td").nth(1).textContent()).toBe(
        thenFills[0].clientOrderId,
      );
      expect(await rows(page, "fills").first().locator("td").nth(1).textContent()).not.toBe(
        live.body.fills[0].clientOrderId,
      );
      expect(await page.locator("#summary").textContent()).toContain(then.body.equity.slice(0, 6));
      expect(await page.locator("#live").textContent()).toBe("paused (as of)");
      expect(head).toBeGreaterThan(at);
      await page.locator("#asof-live").click();
      await page.waitForFunction(
        (p) => document.getElementById("shown")?.dataset.position === p,
        live.position,
      );
      expect(await page.locator("#shown").textContent()).toBe(`live · position ${live.position}`);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it("the kill switch needs the control token: without or wrong, the 401 is shown; with it, trading halts", async () => {
    const { page, close } = await openPage();
    try {
      const message = page.locator("#control-message");
      await page.locator("#halt").click();
      await expectText(message, "401 Unauthorized: missing or wrong bearer token");
      await page.locator("#control-token").fill("wrong-token");
      await page.locator("#halt").click();
      await expectText(message, "401 Unauthorized: missing or wrong bearer token");
      expect((await api("/risk")).body.tradingState).toBe("ACTIVE");
      await page.locator("#control-token").fill(served.controlToken);
      await page.locator("#halt").click();
      await expectText(message, "trading state: HALTED");
      expect((await api("/risk")).body.tradingState).toBe("HALTED");
      await page.waitForFunction(() => document.getElementById("trading-state")?.textContent === "HALTED");
      await page.locator("#resume").click();
      await expectText(message, "trading state: ACTIVE");
      expect((await api("/risk")).body.tradingState).toBe("ACTIVE");
    } finally {
      await close();
    }
  });
});

describe.skipIf(!root)("the dashboard of a server without a control token", () => {
  it("disables the kill switch and says how to enable it", async () => {
    const served = await serveBacktest({
      dataRoot: root!,
      symbols: ["BTCUSDT"],
      from: "2025-06-01",
      to: "2025-06-01",
      controlToken: "",
    });
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext()).newPage();
      await page.goto(served.url);
      await page.waitForFunction(() => Number(document.body.dataset.refreshed ?? 0) >= 1, null, {
        timeout: 20_000,
      });
      expect(await page.locator("#halt").isDisabled()).toBe(true);
      expect(await page.locator("#resume").isDisabled()).toBe(true);
      expect(await page.locator("#control-disabled").isVisible()).toBe(true);
      expect(await page.locator("#control-disabled").textContent()).toContain("PERPSOURCE_CONTROL_TOKEN");
    } finally {
      await browser.close();
      await served.close();
    }
  });
});

/** Waits until `locator`'s text contains `text`. */
async function expectText(locator: ReturnType<Page["locator"]>, text: string): Promise<void> {
  await locator
    .page()
    .waitForFunction(([el, t]) => (el as unknown as Element).textContent?.includes(t as string) ?? false, [
      await locator.elementHandle(),
      text,
    ] as const);
}
