/**
 * The streaming multifactor-v2 pipeline (strategies.md §1.4, §1.3 correction 4): one `push` per closed 1h bar,
 * each indicator updated incrementally — compensated running sums, sliding Welford SDs, a monotonic deque for
 * Max_240, order-statistic trees for the Q_240 quantiles, EWMAs — O(log n) per bar (about 30 µs). SMA_144(F)
 * and the SMA_120s of the z-scores are the means of the Welford accumulators that give their SDs. Its result
 * equals the batch formulas on the same bars (within 2e-14 on the golden run; test/multifactor-v2-parity.test.ts),
 * from the anchor (the first bar pushed) on: EWMA values depend on the anchor (§1.5).
 *
 * Bars must be consecutive hours; a gap (§0) is handled by the caller discarding the stream and starting a new
 * one. `flow` is fixed per stream: with it every bar must carry takerBuyVolume; without it (OHLCV data) the flow
 * component is unavailable and the weights renormalise (§1.4 F). Deterministic and serialisable:
 * `FactorStream.fromJSON(JSON.parse(JSON.stringify(s)))` continues bit for bit as `s`.
 */
import { Ewma } from "../../domain/indicators/ewma.ts";
import { integerField, jsonObject } from "../../domain/indicators/json.ts";
import { Lag } from "../../domain/indicators/lag.ts";
import { RollingQuantile } from "../../domain/indicators/rolling-quantile.ts";
import { RollingSd } from "../../domain/indicators/rolling-sd.ts";
import { RollingSum } from "../../domain/indicators/rolling-sum.ts";
import { SlidingExtreme } from "../../domain/indicators/sliding-extreme.ts";
import { type FactorBar, type FactorValues, HOUR_MS } from "./factors.ts";
import {
  buyRatio,
  clip,
  convictionScale,
  dollarDelta,
  dynamicWeights,
  EPS,
  extremeMoveFilter,
  flowSignal,
  forwardScore,
  fundingSignal,
  hysteresis,
  meanReversionSignal,
  riskScale,
  trendFilter,
  volumeScale,
} from "./formulas.ts";

/** The pipeline's structures, by name (its JSON layout). */
function structures() {
  return {
    closeLag: new Lag(24),
    sdR24x72: new RollingSd(72),
    smaVol72: new RollingSum(240),
    ewVrs: new Ewma(36),
    smaC24: new RollingSum(24),
    smaC168: new RollingSum(168),
    ewTr: new Ewma(24),
    sumExt: new RollingSum(48),
    sdF: new RollingSd(144),
    qFz: new RollingQuantile(240),
    ewFs: new Ewma(18),
    sdR24x96: new RollingSd(96),
    smaV72: new RollingSum(72),
    sdBr: new RollingSd(120),
    sdD: new RollingSd(120),
    sdV: new RollingSd(120),
    ewFc: new Ewma(12),
    qFc: new RollingQuantile(240),
    maxC: new SlidingExtreme(240, "max"),
    lagFs: new Lag(24),
    lagMrs: new Lag(24),
    lagFls: new Lag(24),
    smaPerfF: new RollingSum(192),
    smaPerfM: new RollingSum(192),
    smaPerfL: new RollingSum(192),
    ewPerfF: new Ewma(60),
    ewPerfM: new Ewma(60),
    ewPerfL: new Ewma(60),
    qFwf: new RollingQuantile(240),
    ewSm: new Ewma(18),
    sdSm: new RollingSd(120),
    sdSt: new RollingSd(24),
  };
}

type Structures = ReturnType<typeof structures>;
type Restorable = { fromJSON(json: unknown): unknown };

/** `FactorStream` as JSON. */
export interface FactorStreamJson {
  flow: boolean;
  /** openTime of the first bar (the anchor), null before it. */
  anchor: number | null;
  lastOpenTime: number | null;
  bars: number;
  vol72Prev: number | null;
  final: number | null;
  structures: { [K in keyof Structures]: ReturnType<Structures[K]["toJSON"]> };
}

/** Streaming §1.4 for one symbol from its anchor bar. */
export class FactorStream {
  private s: Structures = structures();
  private anchorTime: number | undefined;
  private lastOpenTime: number | undefined;
  private count = 0;
  private vol72Prev: number | undefined;
  private final: number | undefined;

  /** `flow`: whether bars carry taker-buy volume (§1.3 correction 1). */
  constructor(readonly flow: boolean) {}

  /** openTime of the first bar pushed (recorded with the warm-up, §1.5), or undefined. */
  get anchor(): number | undefined {
    return this.anchorTime;
  }

  /** Bars pushed since the anchor. */
  get bars(): number {
    return this.count;
  }

  /**
   * Consumes the closed bar after the previous one, with `funding` = F_t (as-of, §0; undefined before the first
   * known settlement), and returns the components valid at its close.
   * @throws Error when the bar is not the next hour, a number is not finite, or with flow its takerBuyVolume is
   * missing.
   */
  push(bar: FactorBar, funding: number | undefined): FactorValues {
    this.check(bar, funding);
    const s = this.s;
    const out: FactorValues = {};
    const { open: O, close: C, volume: V } = bar;

    // A. Regime
    const c24 = s.closeLag.push(C);
    const r24 = c24 === undefined ? undefined : C / c24 - 1;
    let vol72: number | undefined;
    if (r24 !== undefined) {
      s.sdR24x72.push(r24);
      vol72 = s.sdR24x72.sd();
      s.sdR24x96.push(r24);
    }
    let vrs: number | undefined;
    if (vol72 !== undefined) {
      s.smaVol72.push(vol72);
      const m = s.smaVol72.mean();
      if (m !== undefined) {
        out.volRegime = clip(vol72 / Math.max(m, EPS) - 1, -2, 2);
        vrs = s.ewVrs.push(out.volRegime);
      }
    }
    s.smaC24.push(C);
    s.smaC168.push(C);
    let tr: number | undefined;
    const sma168 = s.smaC168.mean();
    if (sma168 !== undefined) {
      out.trendRatio = clip(s.smaC24.mean()! / sma168 - 1, -0.1, 0.1);
      tr = s.ewTr.push(out.trendRatio);
    }
    let emf: number | undefined;
    if (r24 !== undefined && this.vol72Prev !== undefined) {
      out.rvr = r24 / Math.max(this.vol72Prev, EPS);
      out.ext = Math.abs(out.rvr) > 2.5 ? 1 : 0;
      s.sumExt.push(out.ext);
      const n = s.sumExt.total();
      if (n !== undefined) emf = extremeMoveFilter(n);
    }
    this.vol72Prev = vol72;
    Object.assign(out, { r24, vol72, vrs, tr, emf });

    // B. Funding
    let fs: number | undefined;
    if (funding !== undefined) {
      s.sdF.push(funding);
      const sd = s.sdF.sd();
      if (sd !== undefined) {
        out.fz = (funding - s.sdF.mean()!) / Math.max(sd, EPS);
        s.qFz.push(Math.abs(out.fz));
        out.fthr = s.qFz.quantile(0.7);
        if (out.fthr !== undefined) {
          out.ff = fundingSignal(out.fz, out.fthr);
          fs = s.ewFs.push(out.ff);
        }
      }
    }
    Object.assign(out, { funding, fs });

    // C. Mean reversion
    s.smaV72.push(V);
    const smaV = s.smaV72.mean();
    if (smaV !== undefined) out.volRatio = V / Math.max(smaV, EPS);
    const sd96 = s.sdR24x96.sd();
    if (r24 !== undefined && sd96 !== undefined) out.rz = r24 / Math.max(sd96, EPS);
    let mrs: number | undefined;
    if (out.rz !== undefined && vrs !== undefined && tr !== undefined && out.volRatio !== undefined)
      mrs = meanReversionSignal(out.rz, vrs, tr, out.volRatio);
    out.mrs = mrs;

    // D. Flow
    let fls: number | undefined;
    if (this.flow) {
      const tb = bar.takerBuyVolume!;
      out.br = buyRatio(V, tb);
      out.dollarDelta = dollarDelta(O, C, V, tb);
      s.sdBr.push(out.br);
      s.sdD.push(out.dollarDelta);
      s.sdV.push(V);
      if (s.sdBr.ready) {
        out.brz = (out.br - s.sdBr.mean()!) / Math.max(s.sdBr.sd()!, EPS);
        out.dz = (out.dollarDelta - s.sdD.mean()!) / Math.max(s.sdD.sd()!, EPS);
        out.vz = (V - s.sdV.mean()!) / Math.max(s.sdV.sd()!, EPS);
        out.fc = s.ewFc.push(0.7 * out.brz + 0.3 * out.dz);
        s.qFc.push(Math.abs(out.fc));
        const q = s.qFc.quantile(0.75);
        if (q !== undefined) {
          out.flt = flowSignal(out.fc, q);
          fls = out.flt * volumeScale(out.vz);
        }
      }
    }
    out.fls = fls;

    // E. Risk
    s.maxC.push(C);
    const maxC = s.maxC.value();
    let risk: number | undefined;
    if (maxC !== undefined) {
      out.drawdownRatio = C / maxC;
      if (vrs !== undefined) risk = riskScale(vrs, out.drawdownRatio);
    }
    out.risk = risk;

    // F. Weights (Correction 3: S_{k,t−24} · r24_t)
    out.perfF = this.perf(s.lagFs, s.smaPerfF, s.ewPerfF, fs, r24);
    out.perfM = this.perf(s.lagMrs, s.smaPerfM, s.ewPerfM, mrs, r24);
    if (this.flow) out.perfL = this.perf(s.lagFls, s.smaPerfL, s.ewPerfL, fls, r24);
    const weightsValid =
      out.perfF !== undefined && out.perfM !== undefined && (!this.flow || out.perfL !== undefined);
    if (!weightsValid) return out;
    const w = dynamicWeights(out.perfF!, out.perfM!, this.flow ? out.perfL : undefined);
    Object.assign(out, { wF: w.f, wM: w.m, wL: w.l });

    // G. Combination
    if (fs === undefined || mrs === undefined || (this.flow && fls === undefined)) return out;
    if (tr === undefined || risk === undefined || emf === undefined) return out;
    out.raw = w.f * fs + w.m * mrs + (this.flow ? w.l * fls! : 0);
    out.tf = trendFilter(tr, out.raw);
    out.fwf = out.raw * out.tf * risk * emf;

    // H. Refinement
    s.qFwf.push(Math.abs(out.fwf));
    const qf = s.qFwf.quantile(0.75);
    if (qf === undefined) return out;
    out.conv = out.fwf * convictionScale(out.fwf, qf);
    out.sm = s.ewSm.push(out.conv);
    s.sdSm.push(out.sm);
    const sdSm = s.sdSm.sd();
    if (sdSm === undefined) return out;
    out.st = out.sm / Math.max(sdSm, EPS);
    s.sdSt.push(out.st);
    const sdSt = s.sdSt.sd();
    if (sdSt === undefined) return out;
    out.chg = 0.4 * sdSt;

    // I. Hysteresis
    this.final = hysteresis(this.final, out.st, out.chg);
    out.final = this.final;
    return out;
  }

  /** perf_k = EWMA_60(SMA_192(S_k,t−24 · r24_t)); pushes S_k,t into its delay line. */
  private perf(lag: Lag, sma: RollingSum, ew: Ewma, signal: number | undefined, r24: number | undefined) {
    const past = lag.push(signal);
    if (past === undefined || r24 === undefined) return undefined;
    sma.push(forwardScore(past, r24));
    const m = sma.mean();
    return m === undefined ? undefined : ew.push(m);
  }

  private check(bar: FactorBar, funding: number | undefined): void {
    const at = `bar ${bar.openTime}`;
    if (!Number.isSafeInteger(bar.openTime) || bar.openTime % HOUR_MS !== 0)
      throw new Error(`FactorStream.push: ${at}: openTime must be a whole UTC hour`);
    if (bar.closeTime !== bar.openTime + HOUR_MS - 1)
      throw new Error(`FactorStream.push: ${at}: closeTime must be openTime + 3599999, got ${bar.closeTime}`);
    if (this.lastOpenTime !== undefined && bar.openTime !== this.lastOpenTime + HOUR_MS)
      throw new Error(
        `FactorStream.push: ${at} does not follow ${this.lastOpenTime}; a gap restarts the warm-up with a new stream`,
      );
    for (const k of ["open", "close", "volume"] as const)
      if (!Number.isFinite(bar[k]) || bar[k] < 0)
        throw new Error(`FactorStream.push: ${at}: ${k} ${bar[k]} is invalid`);
    if (!(bar.open > 0 && bar.close > 0))
      throw new Error(`FactorStream.push: ${at}: prices must be positive`);
    if (this.flow) {
      const tb = bar.takerBuyVolume;
      if (tb === undefined || !Number.isFinite(tb) || tb < 0)
        throw new Error(`FactorStream.push: ${at}: takerBuyVolume ${tb} is required with flow (taker data)`);
    }
    if (funding !== undefined && !Number.isFinite(funding))
      throw new Error(`FactorStream.push: ${at}: funding ${funding} is not finite`);
    this.anchorTime ??= bar.openTime;
    this.lastOpenTime = bar.openTime;
    this.count++;
  }

  /** The exact state as plain JSON (for checkpoints). */
  toJSON(): FactorStreamJson {
    const structuresJson = Object.fromEntries(Object.entries(this.s).map(([k, v]) => [k, v.toJSON()]));
    return {
      flow: this.flow,
      anchor: this.anchorTime ?? null,
      lastOpenTime: this.lastOpenTime ?? null,
      bars: this.count,
      vol72Prev: this.vol72Prev ?? null,
      final: this.final ?? null,
      structures: structuresJson as FactorStreamJson["structures"],
    };
  }

  /** Restores `toJSON()` output. Throws naming the structure and field when `json` is malformed. */
  static fromJSON(json: unknown): FactorStream {
    const o = jsonObject(json, "FactorStream");
    if (typeof o.flow !== "boolean") throw new Error("FactorStream.flow: expected a boolean");
    const f = new FactorStream(o.flow);
    const num = (k: string): number | undefined => {
      const v = o[k];
      if (v === null) return undefined;
      if (typeof v !== "number" || !Number.isFinite(v))
        throw new Error(`FactorStream.${k}: expected a finite number or null, got ${JSON.stringify(v)}`);
      return v;
    };
    f.anchorTime = num("anchor");
    f.lastOpenTime = num("lastOpenTime");
    f.count = integerField(o, "bars", "FactorStream", 0);
    if (
      (f.count === 0) !== (f.anchorTime === undefined) ||
      (f.count === 0) !== (f.lastOpenTime === undefined)
    )
      throw new Error("FactorStream: bars, anchor and lastOpenTime disagree");
    f.vol72Prev = num("vol72Prev");
    f.final = num("final");
    const saved = jsonObject(o.structures, "FactorStream.structures");
    const fresh = structures();
    for (const [name, empty] of Object.entries(fresh)) {
      if (!(name in saved)) throw new Error(`FactorStream.structures.${name}: missing`);
      const restored = (empty.constructor as unknown as Restorable).fromJSON(saved[name]);
      (fresh as Record<string, unknown>)[name] = restored;
      const want = empty.toJSON() as unknown as Record<string, unknown>;
      const got = saved[name] as Record<string, unknown>;
      for (const key of ["period", "span", "k", "kind"])
        if (got[key] !== want[key])
          throw new Error(`FactorStream.structures.${name}.${key}: expected ${want[key]}, got ${got[key]}`);
    }
    f.s = fresh;
    return f;
  }
}
