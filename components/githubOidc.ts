/** The issuer of GitHub Actions OIDC tokens, which every CI identity trusts and nothing else. */
export const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";

/** A form of the subject GitHub sends; which one a repository sends is its OIDC setting `use_immutable_subject`. */
export type SubjectForm = "name-only" | "immutable";

/** The names and, for the immutable form, the numeric ids a subject is built from. */
export interface SubjectParts {
  owner: string;
  repository: string;
  environment: string;
  ownerId?: number;
  repositoryId?: number;
}

/**
 * The `sub` claim of a job that runs in a GitHub environment, in one form. Only environment
 * subjects are trusted: a branch or pull_request subject would let any workflow on that ref act
 * as the identity, bypassing the environment's reviewers and deployment policies.
 *
 * - name-only: `repo:OWNER/REPO:environment:ENV`, GitHub's default subject template
 *   (https://docs.github.com/actions/reference/security/oidc).
 * - immutable: `repo:OWNER@OWNER_ID/REPO@REPO_ID:environment:ENV`, each name followed by `@` and
 *   its numeric id; sent by repositories created, renamed or transferred since 15 July 2026 and by
 *   those that opted in (github/docs#45221; Microsoft Learn,
 *   https://learn.microsoft.com/entra/workload-id/workload-identities-github-immutable-subjects).
 *   GitHub's changelog of 2026-04-23 showed `OWNER-ID/REPO-ID`; the rolled-out delimiter is `@`,
 *   and `gh api repos/OWNER/REPO/actions/oidc/customization/sub --jq .sub_claim_prefix` shows a
 *   repository's own prefix.
 *
 * Clouds compare subjects literally (Entra ID and Google case-sensitively), so the names must be
 * spelt as GitHub spells them.
 */
export function environmentSubject(form: SubjectForm, parts: SubjectParts): string {
  const { owner, repository, environment, ownerId, repositoryId } = parts;
  if (form === "name-only") return `repo:${owner}/${repository}:environment:${environment}`;
  if (ownerId === undefined || repositoryId === undefined) {
    throw new Error(`the immutable OIDC subject of ${owner}/${repository} needs the owner's and the repository's numeric ids`);
  }
  return `repo:${owner}@${ownerId}/${repository}@${repositoryId}:environment:${environment}`;
}

/** Every subject a CI identity of this environment trusts, one per form, in the order given. */
export function environmentSubjects(forms: readonly SubjectForm[], parts: SubjectParts): string[] {
  return [...new Set(forms.map((form) => environmentSubject(form, parts)))];
}
