import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hasRole, rolesFromClaims } from "./index.ts";

const config = {
  roles_claim: "groups",
  role_map: { "wheelhouse-operators": "operator", "wheelhouse-admins": "admin" } as const,
};

describe("rolesFromClaims", () => {
  it("maps only the groups role_map names, never inherited object keys", () => {
    const roles = rolesFromClaims(
      { groups: ["constructor", "__proto__", "toString", "hasOwnProperty", "wheelhouse-operators"] },
      config,
    );
    assert.deepEqual(roles, ["operator"]);
    assert.equal(hasRole({ roles }, "admin"), false);
  });

  it("gives no role for a claim of only inherited keys", () => {
    assert.deepEqual(rolesFromClaims({ groups: "constructor __proto__" }, config), []);
  });
});
