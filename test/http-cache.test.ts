import { describe, expect, it } from "vitest";
import { cacheKey, ResponseCache } from "../src/adapters/http/cache.ts";

/** A build that counts its calls and resolves when `release()` is called. */
function controlledBuild(body: string) {
  let calls = 0;
  let release: () => void = () => {};
  const build = () => {
    calls++;
    return new Promise<Buffer>((resolve) => {
      release = () => resolve(Buffer.from(body));
    });
  };
  return { build, release: () => release(), calls: () => calls };
}

describe("ResponseCache", () => {
  const source = {};
  const at = (position: number | null) => ({ source, position });

  it("builds once per key and position; a new position or projections object rebuilds", async () => {
    const cache = new ResponseCache();
    let calls = 0;
    const build = async () => Buffer.from(`body ${++calls}`);
    expect((await cache.get("k", at(1), build)).body.toString()).toBe("body 1");
    expect(await cache.get("k", at(1), build)).toEqual({ body: Buffer.from("body 1"), position: 1 });
    expect((await cache.get("k", at(2), build)).body.toString()).toBe("body 2");
    expect((await cache.get("k", { source: {}, position: 2 }, build)).body.toString()).toBe("body 3");
    expect(await cache.get("other", at(2), build)).toEqual({ body: Buffer.from("body 4"), position: 2 });
    expect(calls).toBe(4);
  });

  it("shares a build in flight, even with requests at a later position, which it reports", async () => {
    const cache = new ResponseCache();
    const first = controlledBuild("at 5");
    const a = cache.get("k", at(5), first.build);
    const b = cache.get("k", at(6), first.build);
    first.release();
    expect(await a).toEqual({ body: Buffer.from("at 5"), position: 5 });
    expect(await b).toEqual({ body: Buffer.from("at 5"), position: 5 });
    expect(first.calls()).toBe(1);
    // once settled, a later position is rebuilt
    const second = controlledBuild("at 6");
    const c = cache.get("k", at(6), second.build);
    second.release();
    expect(await c).toEqual({ body: Buffer.from("at 6"), position: 6 });
  });

  it("does not keep a failed build", async () => {
    const cache = new ResponseCache();
    await expect(cache.get("k", at(1), () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(cache.size).toBe(0);
    const throwing = () => {
      throw new Error("thrown");
    };
    await expect(cache.get("k", at(1), throwing)).rejects.toThrow("thrown");
    expect(cache.size).toBe(0);
    expect((await cache.get("k", at(1), async () => Buffer.from("ok"))).body.toString()).toBe("ok");
  });

  it("holds at most `capacity` bodies, dropping the least recently used", async () => {
    const cache = new ResponseCache(2);
    let calls = 0;
    const build = async () => Buffer.from(String(++calls));
    await cache.get("a", at(1), build);
    await cache.get("b", at(1), build);
    await cache.get("a", at(1), build); // a is now the most recent
    await cache.get("c", at(1), build); // drops b
    expect(cache.size).toBe(2);
    expect(calls).toBe(3);
    await cache.get("a", at(1), build);
    expect(calls).toBe(3);
    await cache.get("b", at(1), build);
    expect(calls).toBe(4);
  });

  it("holds at most `maxBytes` of bodies; a larger one is served, then dropped", async () => {
    const cache = new ResponseCache(64, 10);
    let calls = 0;
    const build = (bytes: number) => async () => {
      calls++;
      return Buffer.alloc(bytes);
    };
    await cache.get("a", at(1), build(4));
    await cache.get("b", at(1), build(4));
    expect(cache.heldBytes).toBe(8);
    await cache.get("c", at(1), build(4)); // 12 > 10: drops a
    expect([cache.size, cache.heldBytes]).toEqual([2, 8]);
    await cache.get("b", at(1), build(4));
    expect(calls).toBe(3);
    const big = await cache.get("big", at(1), build(11));
    expect(big.body.length).toBe(11);
    expect([cache.size, cache.heldBytes]).toEqual([0, 0]);
    await cache.get("a", at(1), build(4));
    expect(calls).toBe(5);
  });
});

describe("cacheKey", () => {
  it("is the same for the same parameters in any order, and leaves out absent ones", () => {
    expect(cacheKey("/pnl", { interval: "1m", maxPoints: 2000, from: undefined })).toBe(
      cacheKey("/pnl", { maxPoints: 2000, interval: "1m" }),
    );
    expect(cacheKey("/pnl", { interval: "1m" })).not.toBe(cacheKey("/pnl", { interval: "1h" }));
    expect(cacheKey("/pnl", {})).not.toBe(cacheKey("/risk", {}));
  });
});
