/**
 * Reads a saved leverage-bracket file into a LeverageBracketCatalog: a raw `GET /fapi/v1/leverageBracket` response
 * (as `perpsource brackets refresh` saves it) or a ccxt leverage-tiers file (the shared data's
 * `futures/um/leverageBracket/leverage-tiers-ccxt-YYYY-MM-DD.json`). Numbers are read losslessly (as their text),
 * so every bracket decimal is exactly the one in the file.
 */
import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { parse } from "lossless-json";
import { LeverageBracketCatalog } from "../../domain/margin/brackets.catalog.ts";
import { BracketFileError } from "../../domain/margin/brackets.parse.ts";

/**
 * The catalog of the bracket file at `path` (its source reads `file <absolute path>`; its date is the
 * `YYYY-MM-DD` in the file's name, else `undated`).
 * @throws BracketFileError naming the file and each problem (JSON path, a broken §4.6 rule with its symbol and
 *   bracket, the line and column of a JSON syntax error, an unreadable file).
 */
export function loadLeverageBracketCatalog(path: string): LeverageBracketCatalog {
  const source = `file ${resolve(path)}`;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new BracketFileError(source, [`cannot read it: ${(err as Error).message}`]);
  }
  return LeverageBracketCatalog.fromBracketFile(parseJsonLossless(text, source), dateInName(path), source);
}

/** The `YYYY-MM-DD` in a file's name, or `undated`. */
export function dateInName(path: string): string {
  return /\d{4}-\d{2}-\d{2}/.exec(basename(path))?.[0] ?? "undated";
}

/**
 * `JSON.parse` that keeps every number as its text ("0.0065", "1e-05"), so no decimal passes through a float.
 * @throws BracketFileError naming `source` and the line:column of a syntax error.
 */
export function parseJsonLossless(text: string, source: string): unknown {
  try {
    return parse(text, undefined, (number) => number);
  } catch (err) {
    const message = (err as Error).message;
    const position = /position (\d+)/.exec(message)?.[1];
    const where = position === undefined ? "" : `line ${lineColumn(text, Number(position))}: `;
    throw new BracketFileError(source, [`${where}not valid JSON (${message})`]);
  }
}

function lineColumn(text: string, position: number): string {
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  return `${line} column ${position - before.lastIndexOf("\n")}`;
}
