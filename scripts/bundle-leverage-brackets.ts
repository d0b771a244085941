/**
 * Regenerates src/domain/margin/brackets.snapshot.json, the leverage brackets perpsource bundles, from a saved
 * bracket file: a ccxt leverage-tiers file (the shared data's) or a raw `GET /fapi/v1/leverageBracket` response
 * (as `perpsource brackets refresh` saves it):
 *
 *   npx tsx scripts/bundle-leverage-brackets.ts ../shared/data/binance/futures/um/leverageBracket/leverage-tiers-ccxt-2026-03-05.json
 *
 * Only linear perpetuals are kept (USDT, USDC and the BTC-quoted ETHBTC; not delivery contracts); every symbol's brackets are verified (§4.6, the cum rule);
 * the copy is compact (one symbol a line, `[initialLeverage, notionalCap, maintMarginRatio, cum]` per bracket) and
 * checked to give exactly the same brackets as the input. The snapshot's date is the one in the input's name.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { dateInName, loadLeverageBracketCatalog } from "../src/adapters/leverage-brackets/load.ts";
import { fromBundledLayout, toBundledLayout } from "../src/domain/margin/brackets.catalog.ts";

const OUT = new URL("../src/domain/margin/brackets.snapshot.json", import.meta.url);

const input = process.argv[2];
if (input === undefined) {
  process.stderr.write("usage: npx tsx scripts/bundle-leverage-brackets.ts BRACKET_FILE.json\n");
  process.exit(2);
}
const capturedOn = dateInName(input);
if (capturedOn === "undated") throw new Error(`${input}: the file name must hold its date, YYYY-MM-DD`);
const full = loadLeverageBracketCatalog(input);
const all = full.symbols().map((s) => full.get(s));
const rows = Object.entries(toBundledLayout(all));

const header = {
  generatedBy: "scripts/bundle-leverage-brackets.ts (do not edit: regenerate)",
  source: basename(input),
  capturedOn,
  layout:
    "per symbol, bracket 1…n as [initialLeverage, notionalCap, maintMarginRatio, cum]; " +
    "notionalFloor = the previous notionalCap (0 for bracket 1)",
};
const headerLines = Object.entries(header).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)},`);
const symbolLines = rows.map(
  ([symbol, brackets], i) =>
    `${JSON.stringify(symbol)}:${JSON.stringify(brackets)}${i < rows.length - 1 ? "," : ""}`,
);
writeFileSync(OUT, `{\n${headerLines.join("\n")}\n"symbols":{\n${symbolLines.join("\n")}\n}}\n`);

const { symbols: written } = fromBundledLayout(JSON.parse(readFileSync(OUT, "utf8")), "written copy");
if (!isDeepStrictEqual(written, all))
  throw new Error("the written copy does not give the same brackets as the input");
process.stdout.write(`${OUT.pathname}: ${all.length} symbols, snapshot of ${capturedOn}\n`);
