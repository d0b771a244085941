/** The generic webhook sink: each alert POSTed as JSON (the `Alert` shape) with Node's fetch. */
import type { Alert } from "../../alerts/rules.ts";
import type { AlertSink } from "./dispatcher.ts";

/** Options of `webhookSink`. */
export interface WebhookSinkOptions {
  /** http(s) URL the alerts are POSTed to. */
  url: string;
  /** Sent as `Authorization: Bearer <token>` when given ($PERPSOURCE_WEBHOOK_TOKEN). */
  token?: string;
}

/** Thrown when the receiver answered other than 2xx: the status and the start of its body. */
export class WebhookError extends Error {
  override name = "WebhookError";
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`webhook answered HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ""}`);
  }
}

/**
 * A sink POSTing `{ ...alert, source: "perpsource" }` as `application/json` to `options.url`; a non-2xx answer
 * rejects with `WebhookError`, a network failure or timeout with fetch's error.
 */
export function webhookSink(options: WebhookSinkOptions): AlertSink {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`;
  return {
    name: "webhook",
    async send(alert: Alert, signal: AbortSignal): Promise<void> {
      const response = await fetch(options.url, {
        method: "POST",
        headers,
        body: JSON.stringify({ source: "perpsource", ...alert }),
        signal,
      });
      const body = await response.text();
      if (!response.ok) throw new WebhookError(response.status, body);
    },
  };
}
