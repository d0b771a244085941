/**
 * Screenshots of the dashboard for the README (`npm run screenshots`): backtests BTCUSDT+ETHUSDT 2025-06-01..03
 * (sma-cross) on the real data at $PERPSOURCE_DATA into an in-memory store, serves it, and has Debian's Chromium
 * (/usr/bin/chromium, driven by playwright-core) take PNGs of the main views into docs/:
 * dashboard.png (the whole page), dashboard-trace.png (an order's decision trace), dashboard-as-of.png (the
 * page as of a log position in the middle of the run).
 * @throws when PERPSOURCE_DATA has no futures/um or Chromium is not installed.
 */
import { join } from "node:path";
import { chromiumInstalled, launchChromium, serveBacktest } from "../test/support/dashboard.ts";
import { realDataRoot } from "../test/support/real-data.ts";

// The browser globals page functions use (this file is type-checked without the DOM library).
interface Element {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
}
declare const document: { body: Element; getElementById(id: string): Element | null };
declare const window: { scrollTo(x: number, y: number): void };

const root = realDataRoot();
if (!root) throw new Error("set PERPSOURCE_DATA to the data root that contains futures/um");
if (!chromiumInstalled()) throw new Error("Debian's chromium is not installed (apt-get install chromium)");
const docs = join(import.meta.dirname, "..", "docs");

const served = await serveBacktest({
  dataRoot: root,
  symbols: ["BTCUSDT", "ETHUSDT"],
  from: "2025-06-01",
  to: "2025-06-03",
});
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
  const refreshes = async (n: number) =>
    page.waitForFunction((k) => Number(document.body.dataset["refreshed"] ?? 0) >= k, n);
  await page.goto(served.url);
  await refreshes(1);
  await page.waitForTimeout(300); // the charts' first paint
  await page.screenshot({ path: join(docs, "dashboard.png"), fullPage: true });

  await page.locator("#fills tbody tr").nth(1).click();
  await page.locator("#trace .step").first().waitFor();
  await page.addStyleTag({ content: "header { position: static; }" }); // not over the element shot
  await page.locator("#trace-panel").screenshot({ path: join(docs, "dashboard-trace.png") });

  const fills = (await (await fetch(`${served.url}/fills?limit=1000`)).json()) as {
    fills: { position: number }[];
  };
  const middle = fills.fills[Math.floor(fills.fills.length / 2)]!.position;
  await page.locator("#trace-close").click();
  await page.addStyleTag({ content: "header { position: sticky; }" });
  await page.locator("#asof-input").fill(String(middle));
  await page.locator("#asof-form button[type=submit]").click();
  await page.waitForFunction(
    (p) => document.getElementById("shown")?.textContent === `as of position ${p}`,
    String(middle),
  );
  await page.waitForTimeout(300);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(docs, "dashboard-as-of.png") });
  console.log(`screenshots written to ${docs}`);
} finally {
  await browser.close();
  await served.close();
}
