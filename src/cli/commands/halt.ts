/**
 * `perpsource halt|resume --store URL --reason TEXT`: the operator's kill switch. Appends TradingStateChanged by
 * "operator" to the risk stream of the run the store records (src/engine/risk-operator.ts); `serve` following
 * the store shows it on /risk, and a run writing the store reads it before its next order.
 */
import { operatorChangeTradingState } from "../../engine/risk-operator.ts";
import { type Flags, UsageError, withContext } from "../context.ts";
import { openExistingStoreForAppend } from "../store.ts";

/**
 * Halts (`to` HALTED) or resumes (`to` ACTIVE) the run of the configured store; prints what happened.
 * @throws UsageError for an empty --reason (exit 2); ConfigError on an invalid configuration.
 */
export function tradingStateCommand(to: "HALTED" | "ACTIVE"): (flags: Flags) => Promise<number> {
  return async (flags) => {
    const reason = typeof flags["reason"] === "string" ? flags["reason"].trim() : "";
    if (reason === "") throw new UsageError("--reason must say why (a non-empty text)");
    return withContext(flags, flags, async ({ cfg, out }) => {
      const store = await openExistingStoreForAppend(cfg.store);
      try {
        const outcome = await operatorChangeTradingState(store, to, reason);
        out(
          outcome.changed
            ? `trading ${outcome.change.from} → ${outcome.change.to} on ${outcome.stream} (revision ${outcome.revision}): ${reason}`
            : `trading is already ${outcome.state} on ${outcome.stream}: nothing appended`,
        );
        return 0;
      } finally {
        await store.close();
      }
    });
  };
}

/** `perpsource halt`. */
export const haltCommand = tradingStateCommand("HALTED");
/** `perpsource resume`. */
export const resumeCommand = tradingStateCommand("ACTIVE");
