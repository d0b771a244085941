/** Reads a saved `GET /fapi/v1/exchangeInfo` response (raw, as Binance returns it) into an InstrumentCatalog. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { InstrumentCatalog } from "../../domain/instruments.catalog.ts";
import { ExchangeInfoError } from "../../domain/instruments.exchange-info.ts";

/**
 * The catalog of the exchangeInfo response saved at `path` (its source reads `file <absolute path>`).
 * @throws ExchangeInfoError naming the file and, for a bad payload, the JSON path of each problem, or the line and
 *   column of a JSON syntax error; an unreadable file too.
 */
export function loadInstrumentCatalog(path: string): InstrumentCatalog {
  const source = `file ${resolve(path)}`;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ExchangeInfoError(source, [`cannot read it: ${(err as Error).message}`]);
  }
  return InstrumentCatalog.fromExchangeInfo(parseJson(text, source), source);
}

/**
 * `JSON.parse(text)`.
 * @throws ExchangeInfoError naming `source` and the line:column of the syntax error.
 */
export function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const position = /position (\d+)/.exec(message)?.[1];
    const where = position === undefined ? "" : `line ${lineColumn(text, Number(position))}: `;
    throw new ExchangeInfoError(source, [`${where}not valid JSON (${message})`]);
  }
}

function lineColumn(text: string, position: number): string {
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  return `${line} column ${position - before.lastIndexOf("\n")}`;
}
