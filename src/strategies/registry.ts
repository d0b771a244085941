/**
 * Every strategy perpsource can run, by name. Adding a strategy: a folder beside this file and one line here.
 */
import { multifactorV2 } from "./multifactor-v2/index.ts";
import { smaCross } from "./sma-cross/index.ts";
import type { AnyStrategy } from "./strategy.ts";

const registry: Readonly<Record<string, AnyStrategy>> = {
  [smaCross.name]: smaCross,
  [multifactorV2.name]: multifactorV2,
};

/** The config keys of the registered strategies' parameters (`smaCross`, `multifactor`). */
export const strategyConfigKeys: ReadonlySet<string> = new Set(
  Object.values(registry).map((s) => s.configKey),
);

/** The registered strategy names, sorted. */
export const strategyNames: readonly string[] = Object.keys(registry).sort();

/**
 * The validated parameters of `strategy` in a backtest configuration (its `configKey` entry, defaults applied).
 * @throws ZodError naming the field when they are invalid.
 */
export function strategyParams(strategy: AnyStrategy, config: object): unknown {
  return strategy.params.parse((config as Record<string, unknown>)[strategy.configKey] ?? {});
}

/**
 * The strategy called `name`.
 * @throws Error naming the registered strategies when there is none by that name.
 */
export function getStrategy(name: string): AnyStrategy {
  const strategy = registry[name];
  if (!strategy) throw new Error(`unknown strategy "${name}"; available: ${strategyNames.join(", ")}`);
  return strategy;
}
