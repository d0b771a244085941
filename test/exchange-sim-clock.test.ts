/**
 * The exchange clock of the double (src/exchange-sim/clock.ts) on an injected wall clock: between steps of a
 * paced replay it runs `speed` times as fast as the wall clock, never goes back, never reaches the next
 * unreplayed event, and stands still during a step; unpaced (lockstep) it only moves with the steps.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ReplayClock } from "../src/exchange-sim/clock.ts";

const FROM = Date.UTC(2025, 4, 5);

describe("ReplayClock", () => {
  it("unpaced, stands at the last step's time whatever the wall clock does", () => {
    let wall = 0;
    const clock = new ReplayClock(FROM, () => wall);
    wall = 10_000;
    expect(clock.now()).toBe(FROM);
    clock.setNext(FROM + 59_999);
    clock.beginStep(FROM + 59_999);
    clock.endStep();
    wall = 1e9;
    expect(clock.now()).toBe(FROM + 59_999);
    expect(clock.wallDelayUntil(FROM + 1e9)).toBe(0);
  });

  it("paced, is monotonic, below the next event between steps, at the step's time during it, and schedules events at start + Δmarket / speed", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 1, max: 300_000 })), {
          minLength: 1,
          maxLength: 30,
        }),
        (speed, steps) => {
          let wall = 1_000;
          const clock = new ReplayClock(FROM, () => wall);
          clock.pace(speed);
          let last = clock.now();
          let eventTime = FROM;
          for (const [wallAdvance, gap] of steps) {
            eventTime += gap;
            clock.setNext(eventTime);
            expect(clock.wallDelayUntil(eventTime)).toBeCloseTo(
              Math.max(0, 1_000 + (eventTime - FROM) / speed - wall),
              6,
            );
            wall += wallAdvance;
            const between = clock.now();
            expect(between).toBeGreaterThanOrEqual(last);
            expect(between).toBeLessThan(eventTime);
            expect(between).toBe(
              Math.max(last, Math.min(Math.floor(FROM + (wall - 1_000) * speed), eventTime - 1)),
            );
            wall = Math.max(wall, 1_000 + (eventTime - FROM) / speed); // the replay sleeps until the event is due
            clock.beginStep(eventTime);
            wall += 5_000; // a slow step: the clock does not move during it
            expect(clock.now()).toBe(eventTime);
            clock.endStep();
            last = eventTime;
          }
        },
      ),
    );
  });

  it("refuses a speed that is not a positive finite number", () => {
    const clock = new ReplayClock(FROM, () => 0);
    for (const speed of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => clock.pace(speed)).toThrow(`speed must be > 0, got ${speed}`);
  });
});
