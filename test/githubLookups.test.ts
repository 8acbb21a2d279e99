import assert from "node:assert/strict";
import { test } from "node:test";
import { GithubLookups } from "../components/githubLookups";
import { githubSettingsProblems } from "../components/githubSettingsCheck";
import type { CallOverride } from "../scripts/mocks";
import { build, valueOf } from "./harness";

const GET_REPOSITORY = "github:index/getRepository:getRepository";
const TEMPLATE = "github:index/getActionsRepositoryOidcSubjectClaimCustomizationTemplate:getActionsRepositoryOidcSubjectClaimCustomizationTemplate";

/** Runs `use` on fresh lookups of owner `acme` under mocks, with data-source answers replaced by `calls`. */
const lookup = <T>(use: (lookups: GithubLookups) => T, calls: Record<string, CallOverride> = {}) =>
  build(() => use(new GithubLookups("acme")), { calls, expectErrors: true });

const answer = (fullName: string, repoId = 812345678): Record<string, CallOverride> => ({
  [GET_REPOSITORY]: () => ({ id: fullName.split("/")[1], fullName, name: fullName.split("/")[1], repoId }),
});

test("a repository spelt as GitHub spells it resolves to its name and id (offline, the config's spelling stands)", async () => {
  const { result, errors } = await lookup((l) => l.repository("shop", 812345678), answer("acme/shop"));
  assert.deepEqual(errors, []);
  assert.deepEqual(await valueOf(result), { fullName: "acme/shop", id: 812345678 });
});

test("a repository GitHub spells differently fails the preview, naming GitHub's spelling", async () => {
  const { errors } = await lookup((l) => l.repository("event-forge"), answer("acme/Event-Forge"));
  assert.ok(
    errors.some((e) =>
      e.includes(
        "GitHub spells acme/event-forge as acme/Event-Forge: Entra ID, npm and Google compare owner and repository names case-sensitively, so CI logins would fail; write github:owner: acme and the repository name Event-Forge exactly as GitHub does",
      ),
    ),
    errors.join("\n"),
  );
});

test("an owner GitHub spells differently fails the preview too", async () => {
  const { errors } = await lookup((l) => l.repository("shop"), answer("Acme/shop"));
  assert.ok(errors.some((e) => e.includes("write github:owner: Acme and the repository name shop")), errors.join("\n"));
});

test("a repository GitHub does not know (the data source answers empty) fails the preview", async () => {
  const { errors } = await lookup((l) => l.repository("shop"), { [GET_REPOSITORY]: () => ({ id: "", fullName: "", name: "", repoId: 0 }) });
  assert.ok(errors.some((e) => e.includes("GitHub has no repository acme/shop, or the token of the github provider cannot read it")), errors.join("\n"));
});

test("a configured repository id that is not GitHub's fails the preview with the right id", async () => {
  const { errors } = await lookup((l) => l.repository("shop", 1), answer("acme/shop", 812345678));
  assert.ok(errors.some((e) => e.includes("the id of acme/shop is 812345678 on GitHub, not 1 as configured; set the repository's id to 812345678")), errors.join("\n"));
});

test("a repository on GitHub's default OIDC subject template passes; a custom one fails the preview with the way back", async () => {
  const ok = await lookup((l) => l.defaultSubjectTemplate("shop"));
  assert.deepEqual(ok.errors, []);
  const custom = await lookup((l) => l.defaultSubjectTemplate("shop"), { [TEMPLATE]: () => ({ id: "shop", name: "shop", useDefault: false, includeClaimKeys: ["repository_owner", "context"] }) });
  assert.ok(
    custom.errors.some((e) =>
      e.includes(
        `acme/shop does not use GitHub's default OIDC subject template (use_default is false; it uses its own claim keys ["repository_owner","context"]), so its tokens carry a sub that no CI identity of this stack trusts; switch it back with gh api -X PUT repos/acme/shop/actions/oidc/customization/sub -F use_default=true`,
      ),
    ),
    custom.errors.join("\n"),
  );
});

test("each team, user and repository is looked up once, whatever the spelling of the request", async () => {
  const { invokes } = await lookup((l) => [l.teamId("release-managers"), l.teamId("Release-Managers"), l.userId("octocat"), l.userId("OctoCat"), l.repository("shop"), l.repository("Shop"), l.teamsWithAccess("shop"), l.teamsWithAccess("SHOP")]);
  const tokens = invokes.map((i) => i.token).sort();
  assert.deepEqual(tokens, ["github:index/getRepository:getRepository", "github:index/getRepositoryTeams:getRepositoryTeams", "github:index/getTeam:getTeam", "github:index/getUser:getUser"]);
});

// ---------------------------------------------------------------------------------------------
// Settings only GitHub knows, compared in a preview (components/githubSettingsCheck.ts)

const REST = "github:index/getRestApi:getRestApi";
/** GitHub's answers: the repository's visibility, the organisation's plan, the customization's subject form. */
function settings(visibility: string, plan: string | undefined, immutable: boolean | undefined): Record<string, CallOverride> {
  return {
    [GET_REPOSITORY]: () => ({ id: "shop", fullName: "acme/shop", name: "shop", repoId: 812345678, visibility }),
    [REST]: (a) => {
      const endpoint = String(a.endpoint);
      const body = endpoint === "orgs/acme" ? { login: "acme", ...(plan ? { plan: { name: plan } } : {}) } : { use_default: true, ...(immutable === undefined ? {} : { use_immutable_subject: immutable }) };
      return { id: endpoint, endpoint, code: 200, status: "200 OK", headers: "{}", body: JSON.stringify(body) };
    },
  };
}

const checkSettings = async (calls: Record<string, CallOverride>, trustedForms: ("name-only" | "immutable")[] | "no access" = ["name-only"]) => {
  const { result } = await lookup((lookups) => githubSettingsProblems({ owner: "acme", repository: { name: "shop", visibility: "private", plan: "enterprise" }, trustedForms: trustedForms === "no access" ? undefined : trustedForms, lookups }), calls);
  return valueOf(result);
};

test("a repository whose visibility, plan and subject form match GitHub's passes", async () => {
  assert.deepEqual(await checkSettings(settings("private", "enterprise", false)), []);
});

test("a visibility or a plan that is not GitHub's fails the preview, naming GitHub's value to set", async () => {
  assert.deepEqual(await checkSettings(settings("public", "team", false)), [
    "release-infra:github.repositories[shop].visibility is private, but GitHub says acme/shop is public: it decides which protection rules are sent; set visibility: public",
    "release-infra:github.repositories[shop].plan is enterprise, but GitHub says the plan of acme is team: it decides which protection rules are sent; set plan: team",
  ]);
});

test("a plan GitHub does not show (to a token that is no owner's) is not compared", async () => {
  assert.deepEqual(await checkSettings(settings("private", undefined, false)), []);
});

test("GitHub sending the immutable subject to identities that trust only the name-only one fails the preview with the setting to change", async () => {
  assert.deepEqual(await checkSettings(settings("private", "enterprise", true)), [
    "GitHub sends the immutable OIDC subject repo:OWNER@OWNER_ID/REPO@REPO_ID:environment:ENV for acme/shop (use_immutable_subject is true), which its CI identities do not trust (they trust name-only): set release-infra:github.repositories[shop].oidcSubjects: immutable (with its id and release-infra:github.ownerId), or both while switching over",
  ]);
  assert.deepEqual(await checkSettings(settings("private", "enterprise", true), ["name-only", "immutable"]), []);
  // Without environments with access nothing trusts a subject, and the form is not read.
  assert.deepEqual(await checkSettings(settings("private", "enterprise", true), "no access"), []);
});
