import * as pulumi from "@pulumi/pulumi";
import type { RepositoryConfig } from "../config/load";
import type { GithubLookups } from "./githubLookups";

export interface GithubSettingsCheckArgs {
  /** The organisation or user that owns the repository (github:owner). */
  owner: string;
  /** The repository's config: its visibility and plan decide which protections are sent. */
  repository: Pick<RepositoryConfig, "name" | "visibility" | "plan">;
  /** The OIDC subject forms its CI identities trust (config/schema.ts trustedSubjectForms); none when no environment of it has access. */
  trustedForms?: readonly ("name-only" | "immutable")[];
  /** The stack's shared GitHub lookups. */
  lookups: GithubLookups;
}

/**
 * What the config says about a repository that only GitHub knows, compared with GitHub in a
 * preview: its visibility and its owner's plan (they decide whether reviewers and wait timers are
 * sent, and GitHub ignores those where the plan has none), and the OIDC subject form its tokens
 * carry (use_immutable_subject: https://github.blog/changelog/2026-04-23-immutable-subject-claims-for-github-actions-oidc-tokens/;
 * a CI identity that trusts only the other form never logs in). One line per mismatch, with
 * the fix; a value GitHub does not show (the plan, to a token of a non-owner) is not compared.
 */
export function githubSettingsProblems(args: GithubSettingsCheckArgs): pulumi.Output<string[]> {
  const { owner, repository: repo, lookups } = args;
  const key = `release-infra:github.repositories[${repo.name}]`;
  const fullName = `${owner}/${repo.name}`;
  const form = args.trustedForms ? lookups.subjectForm(repo.name) : pulumi.output(undefined);
  return pulumi.all([lookups.visibility(repo.name), lookups.ownerPlan(), form]).apply(([visibility, plan, sent]) => {
    const problems: string[] = [];
    if (visibility !== undefined && visibility !== repo.visibility) {
      problems.push(`${key}.visibility is ${repo.visibility}, but GitHub says ${fullName} is ${visibility}: it decides which protection rules are sent; set visibility: ${visibility}`);
    }
    if (plan !== undefined && plan !== repo.plan) {
      problems.push(`${key}.plan is ${repo.plan}, but GitHub says the plan of ${owner} is ${plan}: it decides which protection rules are sent; set plan: ${plan}`);
    }
    if (sent !== undefined && args.trustedForms && !args.trustedForms.includes(sent)) {
      const subject = sent === "immutable" ? "repo:OWNER@OWNER_ID/REPO@REPO_ID:environment:ENV" : "repo:OWNER/REPO:environment:ENV";
      problems.push(
        `GitHub sends the ${sent} OIDC subject ${subject} for ${fullName} (use_immutable_subject is ${sent === "immutable"}), which its CI identities do not trust (they trust ${args.trustedForms.join(" and ")}): ` +
          `set ${key}.oidcSubjects: ${sent}${sent === "immutable" ? " (with its id and release-infra:github.ownerId)" : ""}, or both while switching over`,
      );
    }
    return problems;
  });
}
