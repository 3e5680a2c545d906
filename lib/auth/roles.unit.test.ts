import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { groupsFromClaims, hasRole, rolesFromClaims } from "./index.ts";

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

describe("groupsFromClaims", () => {
  const groupsConfig = { ...config, groups_claim: "groups", group_map: {} };

  it("takes the claim's plain lowercase names as groups, whether or not they also map to a role", () => {
    const groups = groupsFromClaims(
      { groups: ["wheelhouse-operators", "sre", "security", "Not A Group", 7] },
      groupsConfig,
    );
    assert.deepEqual(groups, ["security", "sre", "wheelhouse-operators"]);
  });

  it("with a group_map, takes only the values it maps, by own keys", () => {
    const mapped = { ...groupsConfig, group_map: { "okta-sre-oncall": "sre", "okta-breakglass": "break-glass" } };
    assert.deepEqual(
      groupsFromClaims({ groups: ["okta-sre-oncall", "security", "constructor", "okta-breakglass"] }, mapped),
      ["break-glass", "sre"],
    );
  });

  it("reads a claim of its own (a dotted path) or a space-separated string", () => {
    const nested = { ...groupsConfig, groups_claim: "wheelhouse.teams" };
    assert.deepEqual(groupsFromClaims({ wheelhouse: { teams: "sre security" } }, nested), ["security", "sre"]);
    assert.deepEqual(groupsFromClaims({}, groupsConfig), []);
  });
});
