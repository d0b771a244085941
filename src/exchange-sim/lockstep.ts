/**
 * The lockstep protocol (live-contract.md "Lockstep"): with `--lockstep` the double sends one step message at a
 * time — every private (user-data) message and every closed kline — and waits for `POST /sim/v1/lockstep/ack`
 * before it sends the next; other market messages queue behind earlier messages but are not waited for.
 * Without lockstep every message goes out at once.
 *
 * A user event the exchange emits inside a replay step (a fill while it matches a bar) is awaited until it is
 * acked, so the client's reactions reach the exchange before it goes on matching; one it emits while serving a
 * request (an order's NEW) is queued and the request answers at once (waiting there would deadlock: the client
 * acks the message it is reacting to only after its request returns).
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** A connection a message was sent on: the wait for an ack ends when every recipient closed. */
export interface Recipient {
  /** Resolves when the connection is closed. */
  readonly closed: Promise<void>;
}

/** A queued message: `deliver` sends it and returns the connections that got it. */
interface Queued {
  deliver: () => readonly Recipient[];
  step: boolean;
  done: () => void;
}

/** The sequencer of messages to the clients. */
export class Lockstep {
  readonly #context = new AsyncLocalStorage<true>();
  readonly #queue: Queued[] = [];
  readonly #idle = new Set<() => void>();
  #pumping = false;
  #release: (() => void) | undefined;
  /** Step messages sent so far (to at least one connection). */
  stepsSent = 0;

  /** @param enabled `--lockstep`; when false every message is sent at once and nothing waits. */
  constructor(readonly enabled: boolean) {}

  /** Whether a step message was sent and its ack has not come. */
  get waitingForAck(): boolean {
    return this.#release !== undefined;
  }

  /** Messages queued behind the one waiting for its ack. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Runs `step` (one replay step) so that `inReplayStep` is true in everything it calls. */
  runStep<T>(step: () => Promise<T>): Promise<T> {
    return this.#context.run(true, step);
  }

  /** Whether the caller runs inside a replay step (see `runStep`). */
  get inReplayStep(): boolean {
    return this.#context.getStore() === true;
  }

  /**
   * Queues a message. `deliver` is called when its turn comes (at once without lockstep) and returns the
   * connections it was sent on. Resolves when it was sent and, for a step message sent to at least one
   * connection, acked (or all those connections closed).
   */
  send(deliver: () => readonly Recipient[], step: boolean): Promise<void> {
    if (!this.enabled) {
      deliver();
      return Promise.resolve();
    }
    return new Promise<void>((done) => {
      this.#queue.push({ deliver, step, done });
      void this.#pump();
    });
  }

  /** The client's ack of the step message waiting for one; false when none is waiting. */
  ack(): boolean {
    const release = this.#release;
    if (release === undefined) return false;
    release();
    return true;
  }

  /** Resolves when no message is queued and none waits for its ack. */
  idle(): Promise<void> {
    if (!this.#pumping && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.add(resolve));
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      for (let item = this.#queue.shift(); item !== undefined; item = this.#queue.shift()) {
        const recipients = item.deliver();
        if (item.step && recipients.length > 0) {
          this.stepsSent++;
          await new Promise<void>((acked) => {
            this.#release = acked;
            void Promise.all(recipients.map((r) => r.closed)).then(() => acked());
          });
          this.#release = undefined;
        }
        item.done();
      }
    } finally {
      this.#pumping = false;
      for (const resolve of this.#idle) resolve();
      this.#idle.clear();
    }
  }
}

/** A condition over changing state (subscriptions, connections) that the replay waits for. */
export class ChangeSignal {
  readonly #waiters = new Set<() => void>();

  /** The state changed: every waiter re-checks its condition. */
  changed(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Resolves once `condition()` holds (checked now and after each `changed`); rejects when `abort` fires. */
  async until(condition: () => boolean, abort: AbortSignal): Promise<void> {
    while (!condition()) {
      abort.throwIfAborted();
      await new Promise<void>((wake) => {
        const onAbort = () => {
          this.#waiters.delete(wakeUp);
          wake();
        };
        const wakeUp = () => {
          abort.removeEventListener("abort", onAbort);
          wake();
        };
        this.#waiters.add(wakeUp);
        abort.addEventListener("abort", onAbort, { once: true });
      });
    }
  }
}
