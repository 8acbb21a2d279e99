/** The issuer of GitHub Actions OIDC tokens, which every CI identity trusts and nothing else. */
export const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";

/**
 * The `sub` claim of a job that runs in a GitHub environment. Only environment subjects are
 * trusted: a branch or pull_request subject would let any workflow on that ref act as the
 * identity, bypassing the environment's reviewers and deployment policies.
 */
export function environmentSubject(owner: string, repository: string, environment: string): string {
  return `repo:${owner}/${repository}:environment:${environment}`;
}

/**
 * The same subject in GitHub's immutable form, `repo:OWNER@OWNER_ID/REPO@REPO_ID:environment:ENV`,
 * which repositories created or renamed since mid-2026 send by default
 * (https://docs.github.com/actions/reference/security/oidc#immutable-subject-claims);
 * clouds match subjects literally, so an identity must trust the form its repository sends.
 */
export function immutableEnvironmentSubject(owner: string, ownerId: number, repository: string, repositoryId: number, environment: string): string {
  return `repo:${owner}@${ownerId}/${repository}@${repositoryId}:environment:${environment}`;
}
