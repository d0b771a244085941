/**
 * A machine's transition table, derived once from its XState definition, for the hot path of
 * `EventSourcedActor`: `next(value, context, event)` answers what `snapshot.can(event)` answers and, when it is
 * true, gives the state and context XState's `send` would reach, without XState's per-event machinery.
 *
 * It covers the machines this kernel writes (symbol, account, trade, order, run): a root with atomic child
 * states (and final ones when the root has no transitions of its own), `on` transitions on the root and the
 * children with named guards and named `assign` actions, and nothing else (no entry/exit actions, eventless or
 * delayed transitions, invocations, output, parallel or history states, nor wildcard descriptors). `transitionTable` returns undefined for any other machine, which then runs on XState.
 * The semantics replicated are XState v5's: a child's candidates for the event type are tried before the
 * root's, in definition order, and the first whose guard passes is taken; `can` is true when it has a target or
 * an action; each assign's partial update is merged as `Object.assign({}, context, update)`.
 * `test/actors-transition-table.test.ts` checks it against XState on every state × event type.
 */
import type { AnyStateMachine } from "xstate";

/** A state value of a flat machine, and its context. */
export interface TableState {
  value: string;
  context: Record<string, unknown>;
}

/** See the module comment. */
export interface TransitionTable {
  /**
   * The state after `event` from `state`, or undefined when the machine would not take it (`snapshot.can`
   * false). Does not modify `state`.
   */
  next(state: TableState, event: { type: string }): TableState | undefined;
}

type Guard = (args: { context: unknown; event: unknown }, params: undefined) => boolean;
type Assignment =
  | ((args: { context: unknown; event: unknown }, params: undefined) => Record<string, unknown>)
  | Record<string, unknown>;

interface Candidate {
  guard: Guard | undefined;
  /** Target state key; undefined for a targetless transition. */
  target: string | undefined;
  assignments: Assignment[];
  /** Whether `can` is true once it is selected (a target or an action). */
  takes: boolean;
}

interface XStateNode {
  key: string;
  type: string;
  config: Record<string, unknown>;
  states: Record<string, XStateNode>;
  parent?: XStateNode;
  transitions: Map<
    string,
    { guard?: unknown; target?: XStateNode[]; actions: unknown[]; reenter?: boolean }[]
  >;
}

const tables = new WeakMap<AnyStateMachine, TransitionTable | null>();

/** The machine's table (cached per machine), or undefined when the machine uses more than it covers. */
export function transitionTable(machine: AnyStateMachine): TransitionTable | undefined {
  let table = tables.get(machine);
  if (table === undefined) {
    table = compile(machine) ?? null;
    tables.set(machine, table);
  }
  return table ?? undefined;
}

/** Config keys a covered state node may use. */
const PLAIN_KEYS = new Set(["on", "states", "initial", "id", "context", "types", "description", "type"]);

function isPlainNode(node: XStateNode): boolean {
  return Object.keys(node.config).every((k) => PLAIN_KEYS.has(k) || node.config[k] === undefined);
}

function compile(machine: AnyStateMachine): TransitionTable | undefined {
  const root = machine.root as unknown as XStateNode;
  if (root.type !== "compound" || !isPlainNode(root)) return undefined;
  const implementations = machine.implementations as {
    guards: Record<string, unknown>;
    actions: Record<string, unknown>;
  };
  const candidatesOf = (node: XStateNode, eventType: string): Candidate[] | undefined => {
    const out: Candidate[] = [];
    for (const t of node.transitions.get(eventType) ?? []) {
      if (t.reenter) return undefined;
      let guard: Guard | undefined;
      if (t.guard !== undefined) {
        const impl = typeof t.guard === "string" ? implementations.guards[t.guard] : undefined;
        if (typeof impl !== "function" || "check" in impl) return undefined;
        guard = impl as Guard;
      }
      const assignments: Assignment[] = [];
      for (const action of t.actions) {
        const impl = typeof action === "string" ? implementations.actions[action] : undefined;
        if (typeof impl !== "function") return undefined;
        const assign = impl as { type?: unknown; assignment?: unknown };
        if (assign.type !== "xstate.assign" || assign.assignment === undefined) return undefined;
        assignments.push(assign.assignment as Assignment);
      }
      let target: string | undefined;
      if (t.target !== undefined) {
        if (t.target.length !== 1 || t.target[0]!.parent !== root) return undefined;
        target = t.target[0]!.key;
      }
      out.push({ guard, target, assignments, takes: target !== undefined || t.actions.length > 0 });
    }
    return out;
  };
  // state key → event type → candidates (the state's, then the root's)
  const rows = new Map<string, Map<string, Candidate[]>>();
  for (const [key, node] of Object.entries(root.states)) {
    // A final state takes no event (the machine is done) as long as the root has no transitions of its own.
    const covered = node.type === "atomic" || (node.type === "final" && root.transitions.size === 0);
    if (!covered || !isPlainNode(node)) return undefined;
    const byType = new Map<string, Candidate[]>();
    for (const eventType of new Set([...node.transitions.keys(), ...root.transitions.keys()])) {
      if (eventType.includes("*")) return undefined;
      const own = candidatesOf(node, eventType);
      const inherited = candidatesOf(root, eventType);
      if (own === undefined || inherited === undefined) return undefined;
      byType.set(eventType, [...own, ...inherited]);
    }
    rows.set(key, byType);
  }
  return {
    next(state, event) {
      const candidates = rows.get(state.value)?.get(event.type);
      if (candidates === undefined) return undefined;
      for (const c of candidates) {
        if (c.guard !== undefined && !c.guard({ context: state.context, event }, undefined)) continue;
        if (!c.takes) return undefined;
        let context = state.context;
        for (const assignment of c.assignments) context = assign(assignment, context, event);
        return { value: c.target ?? state.value, context };
      }
      return undefined;
    },
  };
}

/** XState v5's `resolveAssign`: the partial update merged into a fresh copy of the context. */
function assign(
  assignment: Assignment,
  context: Record<string, unknown>,
  event: unknown,
): Record<string, unknown> {
  const args = { context, event };
  let update: Record<string, unknown>;
  if (typeof assignment === "function") {
    update = assignment(args, undefined);
  } else {
    update = {};
    for (const key of Object.keys(assignment)) {
      const value = assignment[key];
      update[key] = typeof value === "function" ? value(args, undefined) : value;
    }
  }
  return Object.assign({}, context, update);
}
