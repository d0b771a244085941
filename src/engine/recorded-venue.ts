/**
 * The venue of a replayed testnet or live run: it answers from the log and never sends anything. A submit or a
 * cancel is answered with what the log recorded at the place the re-run has reached (the next event to be
 * written: OrderAccepted or OrderRejected for a submit, OrderCanceled for a cancel that succeeded); a cancel
 * whose answer is not there failed in the recorded run too (a failed cancel writes nothing). A submit with no
 * recorded answer there means the re-run left the record: it is answered with a rejection (code 0) naming the
 * place, which the comparison of the two logs then reports. The recorded venue reports (fills, expiries,
 * funding, …) are handed to the engine by the replay driver through `deliver`, in log order.
 */
import type { RecordedAnswer } from "./recorded-inputs.ts";
import type {
  AdoptedOrder,
  CancelResult,
  ExternalVenue,
  OrderRequest,
  SubmitResult,
  VenueAccount,
  VenueReport,
  VenueReportHandler,
  VenueSettings,
} from "./venue.ts";

/** An `ExternalVenue` over a recorded log's answers (see the module comment). */
export class RecordedVenue implements ExternalVenue {
  readonly external = true;
  private onReport: VenueReportHandler | undefined;

  /**
   * @param answers the log's answers by ordinal (`RecordedInputs.answers`)
   * @param next the ordinal of the next event the re-run will write
   * @param walletBalance the wallet the recorded account opened with
   */
  constructor(
    private readonly answers: ReadonlyMap<number, RecordedAnswer>,
    private readonly next: () => number,
    /** The USDT wallet the recorded run's account opened with (AccountOpened). */
    private readonly walletBalance: string,
  ) {}

  /** Keeps the engine's report handler; sets nothing up; the account as the log opened it. */
  async start(_settings: VenueSettings, onReport: VenueReportHandler): Promise<VenueAccount> {
    this.onReport = onReport;
    return { walletBalance: this.walletBalance };
  }

  /**
   * Hands a recorded report to the engine as the live venue did.
   * @throws Error before `start`.
   */
  deliver(report: VenueReport): Promise<void> {
    if (!this.onReport) throw new Error("the recorded venue was not started");
    return this.onReport(report);
  }

  async submit(order: OrderRequest): Promise<SubmitResult> {
    const at = this.next();
    const answer = this.answers.get(at);
    if (answer?.kind === "submit" && answer.clientOrderId === order.clientOrderId) return answer.result;
    return {
      accepted: false,
      code: 0,
      reason: `replay: the log records no answer to ${order.clientOrderId} at event ${at + 1}`,
    };
  }

  async cancel(_symbol: string, clientOrderId: string): Promise<CancelResult> {
    const answer = this.answers.get(this.next());
    if (answer?.kind === "cancel" && answer.clientOrderId === clientOrderId) return answer.result;
    return { canceled: false, code: 0, reason: "the recorded run's cancel did not succeed" };
  }

  /** Nothing to register: every answer comes from the log. */
  adopt(_order: AdoptedOrder): void {}

  /** Nothing to ask: an order in doubt is answered from the log like any other. */
  inDoubt(_orders: readonly OrderRequest[]): void {}

  async close(): Promise<void> {}
}
