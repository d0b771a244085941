/**
 * One symbol's factor state as the strategy step will hold it (strategies.md §1.2–§1.5): the as-of funding join
 * and the streaming pipeline, fed in market-time order with settlements, closed 1h bars (decimal strings, as the
 * aggregator emits them) and gaps. A gap discards the pipeline: warm-up restarts from the next bar, the new
 * anchor. Whether the flow component is available is fixed by the anchor bar (taker-buy volume present or not);
 * a bar that differs starts a new pipeline. Deterministic; `toJSON()`/`fromJSON()` restore it exactly.
 */
import { jsonObject } from "../../domain/indicators/json.ts";
import type { FactorValues } from "./factors.ts";
import { AsOfFunding, type Settlement } from "./funding.ts";
import { FactorStream } from "./stream.ts";

/** A closed 1h bar (structurally an `IntervalBar` of src/domain/bars/aggregate.ts); decimal strings. */
export interface HourBar {
  readonly openTime: number;
  readonly closeTime: number;
  readonly open: string;
  readonly close: string;
  readonly volume: string;
  readonly takerBuyVolume?: string;
}

/** What one bar produced: its components, the pipeline's anchor and its bar count (anchor bar = 1). */
export interface SymbolFactorStep {
  readonly values: FactorValues;
  readonly anchor: number;
  readonly bars: number;
}

/** `SymbolFactors` as JSON. */
export interface SymbolFactorsJson {
  funding: ReturnType<AsOfFunding["toJSON"]>;
  stream: ReturnType<FactorStream["toJSON"]> | null;
}

/** As-of funding + the factor pipeline of one symbol. */
export class SymbolFactors {
  private funding = new AsOfFunding();
  private stream: FactorStream | undefined;

  /** Records a realized settlement (rate as a float64 ratio per interval). Throws when out of order. */
  settle(settlement: Settlement): void {
    this.funding.settle(settlement);
  }

  /** Bars are missing: the pipeline restarts its warm-up at the next bar (§0). */
  gap(): void {
    this.stream = undefined;
  }

  /** The current anchor (openTime of the pipeline's first bar), or undefined before a bar or after a gap. */
  get anchor(): number | undefined {
    return this.stream?.anchor;
  }

  /**
   * Consumes the next closed 1h bar. Decimal strings become float64 here (§0: indicators are float64). A bar
   * whose taker-buy volume is present when the anchor bar's was absent, or the reverse (a change of data source),
   * starts a new pipeline at this bar, like a gap: flow is available or not per pipeline (§1.4 F), never mixed.
   * @throws Error naming the bar when a value is not a decimal or the bar does not follow the previous one.
   */
  bar(bar: HourBar): SymbolFactorStep {
    const flow = bar.takerBuyVolume !== undefined;
    if (this.stream?.flow !== flow) this.stream = new FactorStream(flow);
    const num = (value: string, field: string) => {
      const n = Number(value);
      if (value.trim() === "" || !Number.isFinite(n))
        throw new Error(`bar ${bar.openTime}: ${field} "${value}" is not a decimal`);
      return n;
    };
    const values = this.stream.push(
      {
        openTime: bar.openTime,
        closeTime: bar.closeTime,
        open: num(bar.open, "open"),
        close: num(bar.close, "close"),
        volume: num(bar.volume, "volume"),
        ...(flow ? { takerBuyVolume: num(bar.takerBuyVolume!, "takerBuyVolume") } : {}),
      },
      this.funding.rateAt(bar.closeTime),
    );
    return { values, anchor: this.stream.anchor!, bars: this.stream.bars };
  }

  /** The exact state as plain JSON. */
  toJSON(): SymbolFactorsJson {
    return { funding: this.funding.toJSON(), stream: this.stream?.toJSON() ?? null };
  }

  /** Restores `toJSON()` output; throws naming the structure and field when malformed. */
  static fromJSON(json: unknown): SymbolFactors {
    const o = jsonObject(json, "SymbolFactors");
    const s = new SymbolFactors();
    s.funding = AsOfFunding.fromJSON(o.funding);
    s.stream = o.stream === null ? undefined : FactorStream.fromJSON(o.stream);
    return s;
  }
}
