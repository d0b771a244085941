/**
 * The exchange clock: the market time of the replay, ms epoch UTC. It never reads the wall clock for its value
 * except to pace a `--speed` replay, where market time runs `speed` times as fast as the wall clock between two
 * replay steps. It never goes back, never passes the next unreplayed event, and stands still during a step.
 */

/** A monotonic source of wall time in ms (performance.now by default; tests inject their own). */
export type WallClock = () => number;

/** The exchange clock of one replay. */
export class ReplayClock {
  #time: number;
  #next = Number.POSITIVE_INFINITY;
  #stepping = false;
  #pace: { speed: number; wallStart: number; marketStart: number } | undefined;

  /**
   * A clock standing at `start` (ms epoch, the replay window's start) until `pace` or `beginStep` moves it.
   * @param wall the wall clock pacing uses.
   */
  constructor(
    start: number,
    private readonly wall: WallClock = () => performance.now(),
  ) {
    this.#time = start;
  }

  /**
   * Exchange time, ms epoch: the time of the current step during a step; between steps of a paced replay,
   * `start + elapsed wall ms × speed` kept within [last step's time, next event's time − 1]; else the last step's.
   */
  now(): number {
    if (this.#stepping || this.#pace === undefined) return this.#time;
    const { speed, wallStart, marketStart } = this.#pace;
    const paced = Math.floor(marketStart + (this.wall() - wallStart) * speed);
    return Math.max(this.#time, Math.min(paced, this.#next - 1));
  }

  /** From now on market time runs `speed` times as fast as the wall clock (`--speed N`), from the current time. */
  pace(speed: number): void {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`speed must be > 0, got ${speed}`);
    this.#pace = { speed, wallStart: this.wall(), marketStart: this.#time };
  }

  /** Wall ms until a paced clock reaches market time `time` (0 when it has, or when the clock is not paced). */
  wallDelayUntil(time: number): number {
    if (this.#pace === undefined) return 0;
    const { speed, wallStart, marketStart } = this.#pace;
    return Math.max(0, wallStart + (time - marketStart) / speed - this.wall());
  }

  /** The time of the next event not yet replayed (the clock stays below it between steps). */
  setNext(time: number): void {
    this.#next = time;
  }

  /** A replay step at market time `time` begins: the clock stands at max(now, time) until `endStep`. */
  beginStep(time: number): void {
    this.#time = Math.max(this.now(), time);
    this.#stepping = true;
  }

  /** The current step ended. */
  endStep(): void {
    this.#stepping = false;
  }
}
