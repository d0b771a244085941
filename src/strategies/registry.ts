/**
 * Every strategy perpsource can run, by name. Adding a strategy: a folder beside this file and one line here.
 */
import { smaCross } from "./sma-cross/index.ts";
import type { AnyStrategy } from "./strategy.ts";

const registry: Readonly<Record<string, AnyStrategy>> = {
  [smaCross.name]: smaCross,
};

/** The registered strategy names, sorted. */
export const strategyNames: readonly string[] = Object.keys(registry).sort();

/**
 * The strategy called `name`.
 * @throws Error naming the registered strategies when there is none by that name.
 */
export function getStrategy(name: string): AnyStrategy {
  const strategy = registry[name];
  if (!strategy) throw new Error(`unknown strategy "${name}"; available: ${strategyNames.join(", ")}`);
  return strategy;
}
