/**
 * The error of an event that its aggregate's machine would not take (binance-usdm.md §3.1 for orders): raised
 * before an append (nothing is written) and when a stored log breaks a machine (a tampered or foreign store).
 */

/** An event the aggregate's machine does not accept in its current state. */
export class IllegalTransitionError extends Error {
  override name = "IllegalTransitionError";
  constructor(
    /** The aggregate's stream, e.g. `order-ps-BTCUSDT-000001-E`. */
    readonly stream: string,
    /** The machine's state value when the event arrived, as JSON (e.g. `"PENDING_NEW"`). */
    readonly state: string,
    /** The refused event's type. */
    readonly eventType: string,
    /** Where the event sits when it was read from a store (global position); undefined before an append. */
    readonly position?: number,
  ) {
    super(
      `illegal transition on ${stream}: ${eventType} is not accepted in state ${state}` +
        (position === undefined ? " (nothing was written)" : ` (event at log position ${position})`),
    );
  }
}
