/**
 * Fast paths compiled from the catalog's zod schemas, for the event types without a hand-written one
 * (catalog-fast.ts). zod's generic parser costs every append of such an event tens of µs once a run's events of
 * many types interleave; a check compiled from the schema's own definition costs a few. Like a hand-written fast
 * path it only says "valid": it returns what zod would return (the same values, keys in schema order) for data
 * it is sure zod accepts, else undefined, and the caller then runs zod, which gives the result or the error. So
 * the schemas stay the one definition of the events, and zod's messages the errors.
 *
 * It understands a subset of zod (v4 definitions): strict objects (no refinements), optional fields, arrays,
 * records with string keys, unions of primitives, strings (min/max length, regex), numbers (safe integer,
 * bounds), booleans, null, unknown, string enums and literals. A schema using anything else compiles to no fast
 * path. It is also conservative within that subset: a value
 * that is not a plain object or array, an optional field present with `undefined`, a non-finite number, all go
 * to zod. `test/events-schema-fast.test.ts` checks every catalog type against zod on real and broken events.
 */

/** What a compiled check returns for a value it cannot vouch for. */
const UNSURE: unique symbol = Symbol("unsure");
type Check = (value: unknown) => unknown;

/** The parts of a zod v4 schema definition read here. */
interface Def {
  type: string;
  checks?: { _zod: { def: CheckDef } }[];
  shape?: Record<string, Schema>;
  catchall?: Schema;
  innerType?: Schema;
  element?: Schema;
  entries?: Record<string, unknown>;
  values?: unknown[];
  keyType?: Schema;
  valueType?: Schema;
  options?: Schema[];
}
interface CheckDef {
  check: string;
  format?: string;
  pattern?: RegExp;
  minimum?: number;
  maximum?: number;
  value?: number;
  inclusive?: boolean;
}
interface Schema {
  _zod: { def: Def };
}

/**
 * The fast path of `schema` (a zod strict object): data → zod's output when the data is certainly valid, else
 * undefined. Undefined when the schema uses what this module does not understand.
 */
export function compileFastPath(schema: unknown): ((data: unknown) => unknown) | undefined {
  const def = (schema as Schema)._zod?.def;
  if (def?.type !== "object") return undefined;
  const check = compile(schema as Schema);
  if (check === undefined) return undefined;
  return (data) => {
    const out = check(data);
    return out === UNSURE ? undefined : out;
  };
}

function compile(schema: Schema): Check | undefined {
  const def = schema._zod.def;
  switch (def.type) {
    case "object":
      return compileObject(def);
    case "array":
      return compileArray(def);
    case "string":
      return compileString(def);
    case "number":
      return compileNumber(def);
    case "boolean":
      return def.checks?.length ? undefined : (v) => (typeof v === "boolean" ? v : UNSURE);
    case "enum": {
      const values = Object.values(def.entries ?? {});
      if (def.checks?.length || !values.every((v) => typeof v === "string")) return undefined;
      const allowed = new Set(values);
      return (v) => (typeof v === "string" && allowed.has(v) ? v : UNSURE);
    }
    case "null":
      return (v) => (v === null ? v : UNSURE);
    case "unknown":
      return (v) => v;
    case "record":
      return compileRecord(def);
    case "union":
      return compileUnion(def);
    case "literal": {
      const values = def.values ?? [];
      if (def.checks?.length || !values.every((v) => typeof v === "string")) return undefined;
      return (v) => (typeof v === "string" && values.includes(v) ? v : UNSURE);
    }
    default:
      return undefined;
  }
}

/** A strict object without refinements: own enumerable keys all in the shape, in schema order in the output. */
function compileObject(def: Def): Check | undefined {
  if (def.checks?.length || def.catchall?._zod.def.type !== "never" || !def.shape) return undefined;
  const fields: { key: string; check: Check; optional: boolean }[] = [];
  for (const [key, field] of Object.entries(def.shape)) {
    const optional = field._zod.def.type === "optional";
    const inner = optional ? field._zod.def.innerType : field;
    if (optional && field._zod.def.checks?.length) return undefined;
    const check = inner && compile(inner);
    if (check === undefined) return undefined;
    fields.push({ key, check, optional });
  }
  const known = new Set(fields.map((f) => f.key));
  return (v) => {
    if (typeof v !== "object" || v === null || Object.getPrototypeOf(v) !== Object.prototype) return UNSURE;
    const o = v as Record<string, unknown>;
    let keys = 0;
    for (const key in o) {
      if (!Object.hasOwn(o, key) || !known.has(key)) return UNSURE;
      keys++;
    }
    const out: Record<string, unknown> = {};
    let present = 0;
    for (const f of fields) {
      if (!Object.hasOwn(o, f.key)) {
        if (f.optional) continue;
        return UNSURE;
      }
      const value = o[f.key];
      // zod keeps an optional key given as undefined, and refuses a required one: its call.
      if (value === undefined) return UNSURE;
      const checked = f.check(value);
      if (checked === UNSURE) return UNSURE;
      out[f.key] = checked;
      present++;
    }
    return present === keys ? out : UNSURE;
  };
}

/**
 * A record with plain string keys: own enumerable string keys (zod's `Reflect.ownKeys` order, which for…in
 * follows for them), each value checked; symbol keys and a `__proto__` key go to zod.
 */
function compileRecord(def: Def): Check | undefined {
  const key = def.keyType?._zod.def;
  const value = def.valueType && compile(def.valueType);
  if (def.checks?.length || key?.type !== "string" || key.checks?.length || value === undefined)
    return undefined;
  return (v) => {
    if (typeof v !== "object" || v === null || Object.getPrototypeOf(v) !== Object.prototype) return UNSURE;
    if (Object.getOwnPropertySymbols(v).length > 0) return UNSURE;
    const o = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k in o) {
      if (!Object.hasOwn(o, k) || k === "__proto__") return UNSURE;
      const checked = value(o[k]);
      if (checked === UNSURE) return UNSURE;
      out[k] = checked;
    }
    return out;
  };
}

/** Kinds whose compiled check is exact (UNSURE exactly when zod refuses) and returns the value itself. */
const EXACT = new Set(["string", "number", "boolean", "null", "enum", "literal"]);

/**
 * A union of exact kinds (see `EXACT`): zod takes the first option that accepts, whose output is the value
 * itself; an option of another kind could be unsure where zod accepts, so such a union is not compiled.
 */
function compileUnion(def: Def): Check | undefined {
  const options = def.options ?? [];
  if (def.checks?.length || !options.every((o) => EXACT.has(o._zod.def.type))) return undefined;
  const checks = options.map(compile);
  if (checks.some((c) => c === undefined)) return undefined;
  return (v) => {
    for (const c of checks) if (c!(v) !== UNSURE) return v;
    return UNSURE;
  };
}

function compileArray(def: Def): Check | undefined {
  const element = def.element && compile(def.element);
  if (element === undefined) return undefined;
  let min = 0;
  let max = Number.POSITIVE_INFINITY;
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    if (d.check === "min_length") min = d.minimum!;
    else if (d.check === "max_length") max = d.maximum!;
    else return undefined;
  }
  return (v) => {
    if (!Array.isArray(v) || Object.getPrototypeOf(v) !== Array.prototype) return UNSURE;
    if (v.length < min || v.length > max) return UNSURE;
    const out: unknown[] = [];
    for (let i = 0; i < v.length; i++) {
      const checked = element(v[i]);
      if (checked === UNSURE) return UNSURE;
      out.push(checked);
    }
    return out;
  };
}

function compileString(def: Def): Check | undefined {
  let min = 0;
  let max = Number.POSITIVE_INFINITY;
  const patterns: RegExp[] = [];
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    if (d.check === "min_length") min = Math.max(min, d.minimum!);
    else if (d.check === "max_length") max = Math.min(max, d.maximum!);
    else if (d.check === "string_format" && d.format === "regex" && d.pattern) patterns.push(d.pattern);
    else return undefined;
  }
  return (v) => {
    if (typeof v !== "string" || v.length < min || v.length > max) return UNSURE;
    for (const p of patterns) {
      p.lastIndex = 0;
      if (!p.test(v)) return UNSURE;
    }
    return v;
  };
}

function compileNumber(def: Def): Check | undefined {
  let integer = false;
  let low = Number.NEGATIVE_INFINITY;
  let lowInclusive = true;
  let high = Number.POSITIVE_INFINITY;
  let highInclusive = true;
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    if (d.check === "number_format" && d.format === "safeint") integer = true;
    else if (d.check === "greater_than" && d.value !== undefined && low === Number.NEGATIVE_INFINITY) {
      low = d.value;
      lowInclusive = d.inclusive === true;
    } else if (d.check === "less_than" && d.value !== undefined && high === Number.POSITIVE_INFINITY) {
      high = d.value;
      highInclusive = d.inclusive === true;
    } else return undefined; // another format, a second bound: not understood
  }
  return (v) => {
    if (typeof v !== "number" || !Number.isFinite(v)) return UNSURE;
    if (integer && !Number.isSafeInteger(v)) return UNSURE;
    if (lowInclusive ? v < low : v <= low) return UNSURE;
    if (highInclusive ? v > high : v >= high) return UNSURE;
    return v;
  };
}
