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
