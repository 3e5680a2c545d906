/**
 * Given / when / then for any decider, as emmett's `DeciderSpecification`:
 * the given events are folded with the decider's own `evolve` from its
 * `initialState`, the command is decided on that state, and the outcome is
 * compared with the events expected or the error expected. For unit tests
 * only (it asserts with `node:assert`); production code never imports it.
 *
 * ```ts
 * const spec = DeciderSpecification.for(planDecider);
 * spec.given([requested(), proposed(), decided("allow")]).when(execute()).then([executionRequested()]);
 * spec.given([]).when(execute()).thenThrows(ConflictError, { field: "plan_id" });
 * ```
 */
import assert from "node:assert/strict";

/** A pure decider: commands become events on a state folded from earlier events. */
export interface Decider<Command, State, Event, Decided = Event> {
  decide(command: Command, state: State): readonly Decided[];
  evolve(state: State, event: Event): State;
  readonly initialState: State;
}

// biome-ignore lint/suspicious/noExplicitAny: an error class of any constructor signature
type ErrorClass<E extends Error> = abstract new (...args: any[]) => E;

export interface DeciderThen<Decided> {
  /** The command yields exactly these events (deep, strict equality). */
  then(expected: readonly Decided[]): void;
  /** The command is accepted and yields no events. */
  thenNothing(): void;
  /**
   * The command is refused with an instance of `errorClass`, whose properties include `expected`
   * (`{ field: "revision" }`) or which passes `check`.
   */
  thenThrows<E extends Error>(errorClass: ErrorClass<E>, expected?: Partial<E> | ((error: E) => void)): void;
}

function specification<Command, State, Event, Decided>(decider: Decider<Command, State, Event, Decided>) {
  return {
    given(events: readonly Event[]) {
      return {
        when(command: Command): DeciderThen<Decided> {
          // Folded and decided lazily, so an error in either is the assertion's to report.
          const run = () => decider.decide(command, events.reduce(decider.evolve, decider.initialState));
          return {
            // biome-ignore lint/suspicious/noThenProperty: emmett's given/when/then vocabulary; an `await` of it fails loudly below
            then(expected) {
              // Awaiting the object calls then(resolve, reject): refuse, or the test would pass without asserting.
              if (!Array.isArray(expected)) throw new TypeError("then() takes the expected events; do not await it");
              assert.deepStrictEqual(run(), expected);
            },
            thenNothing() {
              assert.deepStrictEqual(run(), []);
            },
            thenThrows(errorClass, expected) {
              assert.throws(run, (error: unknown) => {
                assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
                if (typeof expected === "function") expected(error);
                else if (expected !== undefined) {
                  for (const [key, value] of Object.entries(expected)) {
                    assert.deepStrictEqual((error as unknown as Record<string, unknown>)[key], value, `error.${key}`);
                  }
                }
                return true;
              });
            },
          };
        },
      };
    },
  };
}

export const DeciderSpecification = { for: specification } as const;
