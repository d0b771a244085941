/** Parsing of request parameters with zod; a failure becomes a 400 that names the parameter. */
import type { z } from "zod";

/** A request parameter is invalid; the HTTP layer answers 400 `{ error, message, field }`. */
export class BadRequestError extends Error {
  override name = "BadRequestError";
  constructor(
    /** The offending parameter (query key or path parameter name). */
    readonly field: string,
    problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
}

/**
 * Parses `input` (a request's query or params object) with `schema`.
 * @throws BadRequestError naming the first invalid (or unknown) parameter.
 */
export function parseParams<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field =
    issue.code === "unrecognized_keys" ? String(issue.keys[0]) : issue.path.map(String).join(".") || "(root)";
  throw new BadRequestError(field, issue.code === "unrecognized_keys" ? "unknown parameter" : issue.message);
}
