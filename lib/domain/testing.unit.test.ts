import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DeciderSpecification } from "./testing.ts";

/** A counter: `Add` yields `added` unless the total would pass 3. */
const counter = {
  initialState: 0,
  evolve: (total: number, event: { readonly added: number }) => total + event.added,
  decide(command: { readonly add: number }, total: number) {
    if (total + command.add > 3) throw new RangeError(`total ${total} + ${command.add} passes 3`);
    return command.add === 0 ? [] : [{ added: command.add }];
  },
};
const { given } = DeciderSpecification.for(counter);

describe("DeciderSpecification", () => {
  it("folds the given events and compares the decided ones", () => {
    given([{ added: 1 }])
      .when({ add: 2 })
      .then([{ added: 2 }]);
    given([]).when({ add: 0 }).thenNothing();
    assert.throws(
      () =>
        given([])
          .when({ add: 2 })
          .then([{ added: 1 }]),
      assert.AssertionError,
    );
    assert.throws(() => given([]).when({ add: 2 }).thenNothing(), assert.AssertionError);
  });

  it("checks the refusal's class and properties", () => {
    given([{ added: 3 }])
      .when({ add: 1 })
      .thenThrows(RangeError, { message: "total 3 + 1 passes 3" });
    assert.throws(() => given([]).when({ add: 1 }).thenThrows(RangeError), assert.AssertionError);
    assert.throws(
      () =>
        given([{ added: 3 }])
          .when({ add: 1 })
          .thenThrows(TypeError),
      assert.AssertionError,
    );
    assert.throws(
      () =>
        given([{ added: 3 }])
          .when({ add: 1 })
          .thenThrows(RangeError, { message: "other" }),
      assert.AssertionError,
    );
  });

  it("an awaited specification fails instead of passing without an assertion", async () => {
    // The compiler refuses the await already (TS1320); through `unknown` it must still fail at run time.
    const spec: unknown = given([]).when({ add: 2 });
    await assert.rejects(async () => await spec, TypeError);
  });
});
