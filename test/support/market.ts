/**
 * Helpers for the market-data tests: collecting async streams and building small data roots in a temp
 * directory (hand-written files, or symlinks to some of the real data's files — never copies).
 */
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { MarketEvent } from "../../src/adapters/market/types.ts";

/** Every item of an async iterable, in order. */
export async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

/** Writes `files` (path relative to `root` → content) under `root`, creating directories. */
export async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

/** Makes `root` a data root holding only `paths` of `source`, each a symlink to the original file. */
export async function linkTree(source: string, root: string, paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await symlink(join(source, path), join(root, path));
  }
}

/** The symbol an event is about. */
export function symbolOf(e: MarketEvent): string {
  return e.kind === "bar" ? e.bar.symbol : e.kind === "funding" ? e.funding.symbol : e.gap.symbol;
}

/** "kind SYMBOL HH:MM:SS.mmm" for compact order assertions. */
export function label(e: MarketEvent): string {
  return `${e.kind} ${symbolOf(e)} ${new Date(e.time).toISOString().slice(11, 23)}`;
}
