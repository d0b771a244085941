/**
 * GET /stream: the store's live subscription as Server-Sent Events. One message per committed event —
 * `id: <position>`, `event: appended`, `data: {"position","type","stream","eventTime"}` — a `: heartbeat` comment
 * every `heartbeatMs`, and a resume from the `Last-Event-ID` header (every event after that position, then live).
 * The subscription is closed when the client goes away or the server closes.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { RecordedEvent } from "../../../events/envelope.ts";
import type { EventStore } from "../../../events/store.ts";
import { BadRequestError } from "../validation.ts";

/** The open streams of a server, ended when it closes (an open response would hold `close()` forever). */
export class OpenStreams {
  private readonly ends = new Set<() => void>();

  /** Registers `end`; returns the function that forgets it. */
  add(end: () => void): () => void {
    this.ends.add(end);
    return () => this.ends.delete(end);
  }

  /** Ends every open stream. */
  endAll(): void {
    for (const end of [...this.ends]) end();
  }
}

/** The SSE message of `event` (`id`, `event: appended`, one `data` line of JSON). */
export function sseMessage(event: RecordedEvent): string {
  const data = {
    position: event.position,
    type: event.type,
    stream: event.stream,
    eventTime: event.metadata.eventTime,
  };
  return `id: ${event.position}\nevent: appended\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * The position to stream after: the `Last-Event-ID` header when present (a log position), else `head` (the last
 * position the server has folded; null: from the log's start).
 * @throws BadRequestError (field `Last-Event-ID`) for a header that is not a non-negative integer.
 */
export function resumeAfter(header: string | string[] | undefined, head: number | null): number | null {
  if (header === undefined) return head;
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !/^\d{1,16}$/.test(value.trim())) {
    throw new BadRequestError("Last-Event-ID", "expected a log position (an integer ≥ 0)");
  }
  return Number(value.trim());
}

/**
 * Takes over `reply` and streams the events of `store` after position `after` (null: all) until the client
 * disconnects or `streams.endAll()`; a failing subscription sends `event: error` with `{ message }` and ends.
 */
export function streamEvents(opts: {
  store: EventStore;
  request: FastifyRequest;
  reply: FastifyReply;
  after: number | null;
  heartbeatMs: number;
  streams: OpenStreams;
}): void {
  const { store, request, reply, after, heartbeatMs, streams } = opts;
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "close", // a stream's socket is never reused: closed when the stream ends
    "x-accel-buffering": "no",
  });
  res.write("retry: 2000\n: connected\n\n");
  const socket = request.raw.socket; // `res.socket` is detached by the time `res` emits close
  let ended = false;
  let subscription: { unsubscribe(): void } | undefined;
  const heartbeat = setInterval(() => res.write(": heartbeat\n\n"), heartbeatMs);
  /**
   * Ends the stream and closes its socket (never reused): after flushing the response's end while the client
   * listens, at once when it went away.
   */
  const end = (clientGone = false) => {
    if (ended) return;
    ended = true;
    forget();
    clearInterval(heartbeat);
    subscription?.unsubscribe();
    if (clientGone) socket.destroy();
    else res.end(() => socket.destroy());
  };
  const forget = streams.add(end);
  // the client going away: its half-close (`end`) or the socket closing
  const gone = () => end(true);
  res.on("close", gone);
  socket.once("end", gone);
  subscription = store.subscribe(after === null ? {} : { after }).subscribe({
    next: (event) => {
      if (!ended) res.write(sseMessage(event));
    },
    error: (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      if (!ended) res.write(`event: error\ndata: ${JSON.stringify({ message })}\n\n`);
      end();
    },
  });
  if (ended) subscription.unsubscribe();
}
