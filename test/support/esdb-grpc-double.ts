/**
 * An in-process test double of EventStoreDB's gRPC API, served with `@grpc/grpc-js` from the service
 * definitions and protobuf messages shipped inside `@eventstore/db-client` (so the real client talks to it
 * unchanged).
 *
 * Services: `Streams` — Read (stream reads forwards/backwards, `$all` reads forwards with an event-type or
 * stream-name filter, catch-up subscriptions to `$all` and to a stream), Append (client streaming: options,
 * then proposed messages) and BatchAppend (the duplex stream the client prefers when the server advertises
 * it); and `ServerFeatures` — GetSupportedMethods, advertising those three methods like a 24.10 node (turn
 * it off to be answered UNIMPLEMENTED like a pre-21.10 node, which makes the client fall back to Append).
 *
 * Protocol behaviours modelled after the server (the write rules live in `esdb-log.ts`):
 * - a stream read of an absent stream answers `stream_not_found`; a read past the end answers nothing;
 * - stream reads carry the event's `$all` position in the recorded event (22.6+) and `no_position` on the
 *   read event; `$all` reads and subscriptions carry `commit_position`;
 * - `$all` reads from a position are inclusive; subscriptions from a position or revision are exclusive;
 * - a subscription answers a confirmation, the stored events, `caught_up` (23.10+), then each new event;
 * - a wrong expected version is an `AppendResp.wrong_expected_version` result for Append and a
 *   `google.rpc.Status` ALREADY_EXISTS carrying `event_store.client.WrongExpectedVersion` for BatchAppend;
 * - proposed messages must carry the `type` and `content-type` metadata; an append's total size is capped at
 *   the default 1 MiB; event ids travel as string UUIDs (the form the client sends and asks for), stored
 *   lower-case.
 * Not modelled: authentication, deletes and tombstones, `$all` backwards reads, link resolution,
 * filtered-read checkpoints (the client only surfaces them to a `checkpointReached` callback), deadlines,
 * and reads from a position that is not a record start (the double refuses them with INVALID_ARGUMENT).
 */
import { randomUUID } from "node:crypto";
import codePb from "@eventstore/db-client/generated/code_pb.js";
import serverFeaturesGrpc from "@eventstore/db-client/generated/serverfeatures_grpc_pb.js";
import serverFeaturesPb from "@eventstore/db-client/generated/serverfeatures_pb.js";
import sharedPb from "@eventstore/db-client/generated/shared_pb.js";
import statusPb from "@eventstore/db-client/generated/status_pb.js";
import streamsGrpc from "@eventstore/db-client/generated/streams_grpc_pb.js";
import streamsPb from "@eventstore/db-client/generated/streams_pb.js";
import * as grpc from "@grpc/grpc-js";
import anyPb from "google-protobuf/google/protobuf/any_pb.js";
import emptyPb from "google-protobuf/google/protobuf/empty_pb.js";
import {
  type EventFilter,
  type EventRecord,
  type ExpectedVersion,
  type ProposedEvent,
  TransactionLog,
  type WriteOutcome,
} from "./esdb-log.ts";

const { AppendReq, AppendResp, BatchAppendReq, BatchAppendResp, ReadReq, ReadResp } = streamsPb;
type ReadReqT = InstanceType<typeof ReadReq>;
type ReadRespT = InstanceType<typeof ReadResp>;
type AppendReqT = InstanceType<typeof AppendReq>;
type AppendRespT = InstanceType<typeof AppendResp>;
type BatchAppendReqT = InstanceType<typeof BatchAppendReq>;
type BatchAppendRespT = InstanceType<typeof BatchAppendResp>;
type ReadOptions = InstanceType<typeof ReadReq.Options>;
type ProposedMessage =
  | InstanceType<typeof AppendReq.ProposedMessage>
  | InstanceType<typeof BatchAppendReq.ProposedMessage>;
type Uuid = InstanceType<typeof sharedPb.UUID>;

/** The server's default maximum total size of one append (`MaxAppendSize`), bytes. */
const MAX_APPEND_SIZE = 1_048_576;
const SERVER_VERSION = "24.10.0";

/** A running double. */
export interface EsdbDouble {
  /** `esdb://127.0.0.1:<port>?tls=false`. */
  connectionString: string;
  /** Appends served so far, by the RPC that carried them. */
  readonly appends: { append: number; batchAppend: number };
  /** Subscriptions (to `$all` or a stream) the double is serving now. */
  liveSubscriptions(): number;
  /** Cancels every open call and stops listening. */
  stop(): Promise<void>;
}

/** Options of `startEsdbDouble`. */
export interface EsdbDoubleOptions {
  /** Serve ServerFeatures (a ≥ 21.10 node: the client appends over BatchAppend). Default true. */
  serverFeatures?: boolean;
}

/** Starts an empty double (a fresh node: only system events) on 127.0.0.1, on a free port, without TLS. */
export async function startEsdbDouble(options: EsdbDoubleOptions = {}): Promise<EsdbDouble> {
  const log = new TransactionLog(() => Date.now());
  const appends = { append: 0, batchAppend: 0 };
  const server = new grpc.Server();
  server.addService(streamsGrpc.StreamsService, {
    read: (call: grpc.ServerWritableStream<ReadReqT, ReadRespT>) => read(log, call),
    append: (
      call: grpc.ServerReadableStream<AppendReqT, AppendRespT>,
      done: grpc.sendUnaryData<AppendRespT>,
    ) => append(log, call, done, () => appends.append++),
    batchAppend: (call: grpc.ServerDuplexStream<BatchAppendReqT, BatchAppendRespT>) =>
      batchAppend(log, call, () => appends.batchAppend++),
  });
  if (options.serverFeatures !== false) {
    server.addService(serverFeaturesGrpc.ServerFeaturesService, { getSupportedMethods });
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    connectionString: `esdb://127.0.0.1:${port}?tls=false`,
    appends,
    liveSubscriptions: () => log.followers,
    stop: async () => server.forceShutdown(),
  };
}

// ── ServerFeatures ────────────────────────────────────────────────────────────────────────────────────────

function getSupportedMethods(
  _call: grpc.ServerUnaryCall<unknown, unknown>,
  done: grpc.sendUnaryData<InstanceType<typeof serverFeaturesPb.SupportedMethods>>,
): void {
  const methods = new serverFeaturesPb.SupportedMethods().setEventStoreServerVersion(SERVER_VERSION);
  for (const [name, features] of [
    ["read", ["position", "events"]],
    ["append", []],
    ["batchappend", ["deadline_duration"]],
  ] as const) {
    methods.addMethods(
      new serverFeaturesPb.SupportedMethod()
        .setServiceName("event_store.client.streams.streams")
        .setMethodName(name)
        .setFeaturesList([...features]),
    );
  }
  done(null, methods);
}

// ── Read ──────────────────────────────────────────────────────────────────────────────────────────────────

function read(log: TransactionLog, call: grpc.ServerWritableStream<ReadReqT, ReadRespT>): void {
  const options = call.request.getOptions();
  try {
    if (!options) throw rpcError(grpc.status.INVALID_ARGUMENT, "ReadReq.options is required");
    if (!options.getUuidOption()?.hasString()) {
      throw rpcError(grpc.status.INVALID_ARGUMENT, "the double only serves string UUIDs");
    }
    if (options.hasStream()) readStream(log, call, options);
    else if (options.hasAll()) readAll(log, call, options);
    else throw rpcError(grpc.status.INVALID_ARGUMENT, "ReadReq.options needs stream or all");
  } catch (error) {
    call.emit("error", error);
  }
}

function readStream(
  log: TransactionLog,
  call: grpc.ServerWritableStream<ReadReqT, ReadRespT>,
  options: ReadOptions,
): void {
  const streamOptions = options.getStream()!;
  const name = streamName(streamOptions.getStreamIdentifier());
  const send = (record: EventRecord) => call.write(eventResp(record, false));
  if (options.hasSubscription()) {
    const events = log.stream(name) ?? [];
    const from = streamOptions.hasRevision()
      ? Number(streamOptions.getRevision()) + 1
      : streamOptions.hasEnd()
        ? events.length
        : 0;
    subscribe(call, () => {
      for (let i = from; i < events.length; i++) send(events[i]!);
      return log.onWrite((record) => {
        if (record.stream === name) send(record);
      });
    });
    return;
  }
  const events = log.stream(name);
  if (!events) {
    const notFound = new ReadResp.StreamNotFound().setStreamIdentifier(streamIdentifier(name));
    call.write(new ReadResp().setStreamNotFound(notFound));
    call.end();
    return;
  }
  const count = Number(options.getCount());
  const last = events.length - 1;
  if (options.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS) {
    const from = streamOptions.hasRevision()
      ? Math.min(Number(streamOptions.getRevision()), last)
      : streamOptions.hasStart()
        ? 0
        : last;
    for (let i = from, sent = 0; i >= 0 && sent < count; i--, sent++) send(events[i]!);
  } else {
    const from = streamOptions.hasRevision()
      ? Number(streamOptions.getRevision())
      : streamOptions.hasEnd()
        ? last + 1
        : 0;
    for (let i = from, sent = 0; i <= last && sent < count; i++, sent++) send(events[i]!);
  }
  call.end();
}

function readAll(
  log: TransactionLog,
  call: grpc.ServerWritableStream<ReadReqT, ReadRespT>,
  options: ReadOptions,
): void {
  if (options.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS) {
    throw rpcError(grpc.status.UNIMPLEMENTED, "the double does not read $all backwards");
  }
  const allOptions = options.getAll()!;
  const subscription = options.hasSubscription();
  let from = 0;
  if (allOptions.hasEnd()) from = log.size;
  if (allOptions.hasPosition()) {
    const position = allOptions.getPosition()!;
    const commit = BigInt(position.getCommitPosition());
    const index =
      commit === BigInt(position.getPreparePosition()) ? log.indexOf(commit, subscription) : undefined;
    if (index === undefined) throw rpcError(grpc.status.INVALID_ARGUMENT, `Invalid position ${commit}.`);
    from = index;
  }
  const wanted = options.hasFilter() ? toFilter(options.getFilter()!) : () => true;
  const send = (record: EventRecord) => {
    if (wanted(record)) call.write(eventResp(record, true));
  };
  if (subscription) {
    subscribe(call, () => {
      for (let i = from; i < log.size; i++) send(log.at(i));
      return log.onWrite(send);
    });
    return;
  }
  const count = Number(options.getCount());
  for (let i = from, sent = 0; i < log.size && sent < count; i++) {
    if (!wanted(log.at(i))) continue;
    send(log.at(i));
    sent++;
  }
  call.end();
}

/**
 * Runs a catch-up subscription: confirmation, `catchUpThenFollow` (sends the stored events synchronously and
 * registers the live listener in the same turn, so nothing is missed or repeated), `caught_up`, then live
 * events until the client cancels.
 */
function subscribe(
  call: grpc.ServerWritableStream<ReadReqT, ReadRespT>,
  catchUpThenFollow: () => () => void,
): void {
  const confirmation = new ReadResp.SubscriptionConfirmation().setSubscriptionId(randomUUID());
  call.write(new ReadResp().setConfirmation(confirmation));
  const stop = catchUpThenFollow();
  call.write(new ReadResp().setCaughtUp(new ReadResp.CaughtUp()));
  call.on("cancelled", stop);
  call.on("close", stop);
}

function toFilter(filter: InstanceType<typeof ReadReq.Options.FilterOptions>): EventFilter {
  const onType = filter.hasEventType();
  const expression = onType ? filter.getEventType()! : filter.getStreamIdentifier()!;
  const regex = expression.getRegex();
  const prefixes = expression.getPrefixList();
  const pattern = regex ? new RegExp(regex) : undefined;
  const matches = pattern
    ? (value: string) => pattern.test(value)
    : (value: string) => prefixes.some((prefix) => value.startsWith(prefix));
  return (record) => matches(onType ? record.type : record.stream);
}

function eventResp(record: EventRecord, fromAll: boolean): ReadRespT {
  const recorded = new ReadResp.ReadEvent.RecordedEvent()
    .setId(new sharedPb.UUID().setString(record.eventId))
    .setStreamIdentifier(streamIdentifier(record.stream))
    .setStreamRevision(String(record.revision))
    .setCommitPosition(String(record.position))
    .setPreparePosition(String(record.position))
    .setData(record.data)
    .setCustomMetadata(record.metadata);
  recorded
    .getMetadataMap()
    .set("type", record.type)
    .set("content-type", record.contentType)
    .set("created", String(record.created));
  const event = new ReadResp.ReadEvent().setEvent(recorded);
  if (fromAll) event.setCommitPosition(String(record.position));
  else event.setNoPosition(new sharedPb.Empty());
  return new ReadResp().setEvent(event);
}

// ── Append ────────────────────────────────────────────────────────────────────────────────────────────────

function append(
  log: TransactionLog,
  call: grpc.ServerReadableStream<AppendReqT, AppendRespT>,
  done: grpc.sendUnaryData<AppendRespT>,
  served: () => void,
): void {
  let options: InstanceType<typeof AppendReq.Options> | undefined;
  const events: ProposedEvent[] = [];
  let size = 0;
  let failed = false;
  const fail = (error: unknown) => {
    failed = true;
    done(error as grpc.ServiceError);
  };
  call.on("data", (request: AppendReqT) => {
    if (failed) return;
    try {
      if (options) {
        const message = request.getProposedMessage();
        if (!message) throw rpcError(grpc.status.INVALID_ARGUMENT, "expected a proposed message");
        const event = proposedEvent(message);
        size += event.data.length;
        if (size > MAX_APPEND_SIZE) throw maxAppendSizeExceeded();
        events.push(event);
      } else {
        options = request.getOptions();
        if (!options) throw rpcError(grpc.status.INVALID_ARGUMENT, "the first AppendReq must be options");
      }
    } catch (error) {
      fail(error);
    }
  });
  call.on("end", () => {
    if (failed) return;
    try {
      if (!options) throw rpcError(grpc.status.INVALID_ARGUMENT, "AppendReq.options is required");
      const expected = appendExpected(options);
      const outcome = log.write(streamName(options.getStreamIdentifier()), expected, events);
      served();
      done(null, appendResp(outcome, expected));
    } catch (error) {
      fail(error);
    }
  });
}

function appendExpected(options: InstanceType<typeof AppendReq.Options>): ExpectedVersion {
  if (options.hasRevision()) return { kind: "revision", revision: Number(options.getRevision()) };
  if (options.hasNoStream()) return { kind: "noStream" };
  if (options.hasStreamExists()) return { kind: "streamExists" };
  return { kind: "any" };
}

function appendResp(outcome: WriteOutcome, expected: ExpectedVersion): AppendRespT {
  if (outcome.kind === "wrongExpectedVersion") {
    const wrong = new AppendResp.WrongExpectedVersion();
    if (outcome.currentRevision < 0) wrong.setCurrentNoStream(new sharedPb.Empty());
    else wrong.setCurrentRevision(String(outcome.currentRevision));
    if (expected.kind === "revision") wrong.setExpectedRevision(String(expected.revision));
    else if (expected.kind === "noStream") wrong.setExpectedNoStream(new sharedPb.Empty());
    else if (expected.kind === "streamExists") wrong.setExpectedStreamExists(new sharedPb.Empty());
    else wrong.setExpectedAny(new sharedPb.Empty());
    return new AppendResp().setWrongExpectedVersion(wrong);
  }
  const success = new AppendResp.Success().setPosition(
    new AppendResp.Position()
      .setCommitPosition(String(outcome.commitPosition))
      .setPreparePosition(String(outcome.preparePosition)),
  );
  if (outcome.lastRevision < 0) success.setNoStream(new sharedPb.Empty());
  else success.setCurrentRevision(String(outcome.lastRevision));
  return new AppendResp().setSuccess(success);
}

// ── BatchAppend ───────────────────────────────────────────────────────────────────────────────────────────

/** One append in flight on a BatchAppend stream, keyed by its correlation id. */
interface PendingBatch {
  stream: string;
  expected: ExpectedVersion;
  events: ProposedEvent[];
  size: number;
}

function batchAppend(
  log: TransactionLog,
  call: grpc.ServerDuplexStream<BatchAppendReqT, BatchAppendRespT>,
  served: () => void,
): void {
  const pending = new Map<string, PendingBatch>();
  call.on("data", (request: BatchAppendReqT) => {
    const resp = new BatchAppendResp()
      .setCorrelationId(request.getCorrelationId())
      .setStreamIdentifier(request.getOptions()?.getStreamIdentifier());
    let key = "";
    try {
      key = parseUuid(request.getCorrelationId());
      const options = request.getOptions();
      if (options) {
        const stream = streamName(options.getStreamIdentifier());
        pending.set(key, { stream, expected: batchExpected(options), events: [], size: 0 });
      }
      const batch = pending.get(key);
      if (!batch) return;
      resp.setStreamIdentifier(streamIdentifier(batch.stream));
      for (const message of request.getProposedMessagesList()) {
        const event = proposedEvent(message);
        batch.size += event.data.length + event.metadata.length;
        batch.events.push(event);
      }
      if (batch.size > MAX_APPEND_SIZE) {
        pending.delete(key);
        const exceeded = new sharedPb.MaximumAppendSizeExceeded().setMaxappendsize(MAX_APPEND_SIZE);
        resp.setError(rpcStatus(codePb.Code.INVALID_ARGUMENT, "MaximumAppendSizeExceeded", exceeded));
      } else if (request.getIsFinal()) {
        pending.delete(key);
        const outcome = log.write(batch.stream, batch.expected, batch.events);
        served();
        setBatchOutcome(resp, outcome, batch.expected);
      } else {
        return;
      }
    } catch (error) {
      pending.delete(key);
      const badRequest = new sharedPb.BadRequest().setMessage(errorMessage(error));
      resp.setError(rpcStatus(codePb.Code.INVALID_ARGUMENT, "BadRequest", badRequest));
    }
    call.write(resp);
  });
  call.on("end", () => call.end());
}

/** Success with the stream's revision and position, or ALREADY_EXISTS with the wrong expected version. */
function setBatchOutcome(resp: BatchAppendRespT, outcome: WriteOutcome, expected: ExpectedVersion): void {
  if (outcome.kind !== "wrongExpectedVersion") {
    const position = new sharedPb.AllStreamPosition()
      .setCommitPosition(String(outcome.commitPosition))
      .setPreparePosition(String(outcome.preparePosition));
    const success = new BatchAppendResp.Success().setPosition(position);
    if (outcome.lastRevision < 0) success.setNoStream(new emptyPb.Empty());
    else success.setCurrentRevision(String(outcome.lastRevision));
    resp.setSuccess(success);
    return;
  }
  const wrong = new sharedPb.WrongExpectedVersion();
  if (outcome.currentRevision < 0) wrong.setCurrentNoStream(new emptyPb.Empty());
  else wrong.setCurrentStreamRevision(String(outcome.currentRevision));
  if (expected.kind === "revision") wrong.setExpectedStreamPosition(String(expected.revision));
  else if (expected.kind === "noStream") wrong.setExpectedNoStream(new emptyPb.Empty());
  else if (expected.kind === "streamExists") wrong.setExpectedStreamExists(new emptyPb.Empty());
  else wrong.setExpectedAny(new emptyPb.Empty());
  resp.setError(rpcStatus(codePb.Code.ALREADY_EXISTS, "WrongExpectedVersion", wrong));
}

function batchExpected(options: InstanceType<typeof BatchAppendReq.Options>): ExpectedVersion {
  if (options.hasStreamPosition()) return { kind: "revision", revision: Number(options.getStreamPosition()) };
  if (options.hasNoStream()) return { kind: "noStream" };
  if (options.hasStreamExists()) return { kind: "streamExists" };
  return { kind: "any" };
}

/** A `google.rpc.Status` with message `typeName` and `details` packed as `event_store.client.<typeName>`. */
function rpcStatus(
  code: number,
  typeName: string,
  details: { serializeBinary(): Uint8Array },
): InstanceType<typeof statusPb.Status> {
  const any = new anyPb.Any();
  any.pack(details.serializeBinary(), `event_store.client.${typeName}`);
  return new statusPb.Status().setCode(code).setMessage(typeName).setDetails(any);
}

// ── Shared conversions ────────────────────────────────────────────────────────────────────────────────────

function proposedEvent(message: ProposedMessage): ProposedEvent {
  const metadata = message.getMetadataMap();
  for (const required of ["type", "content-type"]) {
    if (!metadata.has(required)) {
      throw rpcError(grpc.status.INVALID_ARGUMENT, `Required metadata property ${required} is missing`, {
        exception: "missing-required-metadata-property",
        "required-metadata-properties": required,
      });
    }
  }
  return {
    eventId: parseUuid(message.getId()),
    type: metadata.get("type")!,
    contentType: metadata.get("content-type")!,
    data: message.getData_asU8(),
    metadata: message.getCustomMetadata_asU8(),
  };
}

function maxAppendSizeExceeded(): grpc.ServiceError {
  return rpcError(grpc.status.INVALID_ARGUMENT, `Maximum Append Size of ${MAX_APPEND_SIZE} Exceeded.`, {
    exception: "maximum-append-size-exceeded",
    "maximum-append-size": String(MAX_APPEND_SIZE),
  });
}

const UUID_TEXT = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/**
 * The lower-case 8-4-4-4-12 form of a gRPC UUID. The client sends string UUIDs (and asks for them in reads),
 * so the structured form is refused like any malformed id. @throws a ServiceError when invalid
 */
function parseUuid(uuid: Uuid | undefined): string {
  const text = uuid?.getString() ?? "";
  if (!UUID_TEXT.test(text))
    throw rpcError(grpc.status.INVALID_ARGUMENT, `invalid UUID ${JSON.stringify(text)}`);
  const hex = text.replaceAll("-", "").toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function streamName(identifier: InstanceType<typeof sharedPb.StreamIdentifier> | undefined): string {
  const name = identifier ? Buffer.from(identifier.getStreamName_asU8()).toString("utf8") : "";
  if (!name) throw rpcError(grpc.status.INVALID_ARGUMENT, "a stream name is required");
  return name;
}

function streamIdentifier(name: string): InstanceType<typeof sharedPb.StreamIdentifier> {
  return new sharedPb.StreamIdentifier().setStreamName(Buffer.from(name, "utf8"));
}

/** A gRPC error with the `exception` trailers the client maps to its typed errors. */
function rpcError(
  code: grpc.status,
  details: string,
  trailers: Record<string, string> = {},
): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return Object.assign(new Error(details), { code, details, metadata });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
