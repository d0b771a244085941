/**
 * Regenerates src/domain/instruments.snapshot.json, the exchangeInfo snapshot perpsource bundles, from a saved raw
 * `GET /fapi/v1/exchangeInfo` response (as `perpsource instruments refresh` or the shared data hold them):
 *
 *   npx tsx scripts/bundle-exchange-info.ts ../shared/data/binance/futures/um/exchangeInfo/exchangeInfo-2025-12-24.json
 *
 * The copy is trimmed (`trimExchangeInfo`: the fields and filters perpsource reads), validated, checked to give
 * exactly the same instruments as the raw file, and written one symbol a line so a refresh diffs per symbol.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { InstrumentCatalog, utcDay } from "../src/domain/instruments.catalog.ts";
import { parseExchangeInfo, trimExchangeInfo } from "../src/domain/instruments.exchange-info.ts";

const OUT = new URL("../src/domain/instruments.snapshot.json", import.meta.url);

const input = process.argv[2];
if (input === undefined) {
  process.stderr.write("usage: npx tsx scripts/bundle-exchange-info.ts RAW_EXCHANGE_INFO.json\n");
  process.exit(2);
}
const raw: unknown = JSON.parse(readFileSync(input, "utf8"));
const full = parseExchangeInfo(raw, input);
const trimmed = trimExchangeInfo(raw) as { serverTime: number; rateLimits: unknown; symbols: unknown[] };
if (!isDeepStrictEqual(parseExchangeInfo(trimmed, "the trimmed copy"), full))
  throw new Error("the trimmed copy does not give the same instruments as the raw file");

const header = {
  generatedBy: "scripts/bundle-exchange-info.ts (do not edit: regenerate)",
  source: basename(input),
  capturedOn: utcDay(full.serverTime),
  serverTime: trimmed.serverTime,
  rateLimits: trimmed.rateLimits,
};
const headerLines = Object.entries(header).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)},`);
const symbolLines = trimmed.symbols.map((s, i, all) => JSON.stringify(s) + (i < all.length - 1 ? "," : ""));
writeFileSync(OUT, `{\n${headerLines.join("\n")}\n"symbols":[\n${symbolLines.join("\n")}\n]}\n`);
const catalog = InstrumentCatalog.fromExchangeInfo(JSON.parse(readFileSync(OUT, "utf8")), "written copy");
process.stdout.write(
  `${OUT.pathname}: ${catalog.symbols().length} symbols, snapshot of ${catalog.snapshotDate}\n`,
);
