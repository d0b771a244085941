/**
 * Validation helpers for restoring indicator snapshots from untrusted JSON (checkpoints). Each throws an Error
 * naming the structure and the field, e.g. `RollingSd.m2: expected a finite number, got "x"`.
 */

/** The plain object `value`, or throws naming `what`. */
export function jsonObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error(`${what}: expected an object, got ${JSON.stringify(value)}`);
  return value as Record<string, unknown>;
}

/** `o[key]` as a finite number, or throws naming `what.key`. */
export function finiteField(o: Record<string, unknown>, key: string, what: string): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isFinite(v))
    throw new Error(`${what}.${key}: expected a finite number, got ${JSON.stringify(v)}`);
  return v;
}

/** `o[key]` as an integer ≥ `min`, or throws naming `what.key`. */
export function integerField(o: Record<string, unknown>, key: string, what: string, min: number): number {
  const v = finiteField(o, key, what);
  if (!Number.isSafeInteger(v) || v < min)
    throw new Error(`${what}.${key}: expected an integer ≥ ${min}, got ${v}`);
  return v;
}

/** `o[key]` as an array of finite numbers of length ≤ `maxLength`, or throws naming `what.key[i]`. */
export function finiteArrayField(
  o: Record<string, unknown>,
  key: string,
  what: string,
  maxLength: number,
): number[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new Error(`${what}.${key}: expected an array, got ${JSON.stringify(v)}`);
  if (v.length > maxLength)
    throw new Error(`${what}.${key}: ${v.length} values exceed the window of ${maxLength}`);
  v.forEach((x, i) => {
    if (typeof x !== "number" || !Number.isFinite(x))
      throw new Error(`${what}.${key}[${i}]: expected a finite number, got ${JSON.stringify(x)}`);
  });
  return v as number[];
}

/**
 * `x` as an indicator input: throws unless it is a finite number (indicator inputs are float64 and valid; §0 "no
 * filling"); −0 becomes 0, since JSON cannot keep the sign of zero and a restored snapshot must continue bit for bit.
 */
export function finiteInput(x: number, what: string): number {
  if (!Number.isFinite(x)) throw new Error(`${what}: input must be a finite number, got ${x}`);
  return x + 0;
}

/** Throws unless `period` is a positive safe integer. */
export function checkPeriod(period: number, what: string): void {
  if (!Number.isSafeInteger(period) || period < 1)
    throw new Error(`${what}: period must be a positive integer, got ${period}`);
}
