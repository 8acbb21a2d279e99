import { z } from "zod";
import { keyMaterial, mayBeSecret, secretShape } from "../secretShapes";

/** Schema helpers and name rules shared by the sections of the stack config. */

/** A strict object: unknown keys are errors, and the error remembers which keys were allowed. */
export function strict<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== "unrecognized_keys") return undefined;
      Object.assign(issue, { allowed });
      return `unknown key`;
    },
  });
}

export function pattern(regex: RegExp, rule: string) {
  return z.string().regex(regex, { message: rule });
}

/**
 * Adds an issue for every value that occurs more than once (case-insensitively when asked).
 * The issue sits at the later occurrence; messages repeat only values `shown` allows, by default
 * those that may not be secrets.
 */
export function uniqueBy<T>(
  ctx: z.core.$RefinementCtx,
  items: readonly T[],
  key: (item: T) => string,
  path: (index: number) => PropertyKey[],
  what: string,
  caseInsensitive = false,
  shown: (value: string) => boolean = (value) => !mayBeSecret(value),
) {
  const seen = new Set<string>();
  items.forEach((item, index) => {
    const raw = key(item);
    const k = caseInsensitive ? raw.toLowerCase() : raw;
    if (!seen.has(k)) {
      seen.add(k);
      return;
    }
    ctx.addIssue({
      code: "custom",
      path: path(index),
      message: `duplicate ${what}${shown(raw) ? ` "${raw}"` : ""} (listed twice); ${what}s must be unique${caseInsensitive ? " (case-insensitive)" : ""}`,
    });
  });
}

/** The value of `schema` for `value` when valid on its own, else undefined. */
export function valid<S extends z.ZodType>(schema: S, value: unknown): z.output<S> | undefined {
  const result = schema.safeParse(value);
  return result.success ? result.data : undefined;
}

/** https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules (Microsoft.Resources) */
export const resourceGroupName = pattern(
  /^[-\w.()]{0,89}[-\w()]$/,
  "must be 1-90 letters, digits, '_', '-', '.', '(' or ')' and must not end with '.'",
);

/** A branch or tag name pattern as GitHub matches it (fnmatch on the short name). */
export const refPattern = pattern(/^\S+$/, "must be a non-empty branch or tag pattern without spaces");

/**
 * Marks an issue whose value config/errors.ts never prints: a value that breaks a name rule where
 * a secret or variable is named (a list item, or a record key, which is then left out of the key
 * path too) may be a pasted secret, and so may a variable refused as a credential.
 */
export const CONCEALED = { concealed: true } as const;

const ACTIONS_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A secret or variable name (https://docs.github.com/actions/security-guides/using-secrets-in-github-actions#naming-your-secrets);
 * also refused when it looks like key material or a credential rather than a name. Every issue is
 * concealed: the value is never printed.
 */
export const actionsName = (what: string) =>
  z
    .string()
    // For editors (stack-config.schema.json): the rule the refinement below checks.
    .meta({ pattern: ACTIONS_NAME.source })
    .superRefine((n, ctx) => {
      const issue = (message: string) => ctx.addIssue({ code: "custom", message, params: CONCEALED });
      const store = what === "secret" ? " and set the value with pulumi config set --secret --path 'release-infra:secrets.NAME'" : "";
      const shape = secretShape(n);
      if (shape) issue(`looks like ${shape}, not a ${what} name (not shown); list the name here${store}`);
      else if (keyMaterial(n) || mayBeSecret(n)) issue(`looks like key material (long hex or base64, random-looking), not a ${what} name (not shown); list the name here${store}`);
      else if (!ACTIONS_NAME.test(n)) issue(`${what} names must be letters, digits or '_' and must not start with a digit (not shown: it may be a pasted secret)`);
      else if (n.toUpperCase().startsWith("GITHUB_")) issue(`${what} names must not start with "GITHUB_" (reserved by GitHub)`);
    });

/** Whether `name` is a valid secret or variable name (actionsName), e.g. before a message repeats it. */
export function isActionsName(name: string): boolean {
  return actionsName("secret").safeParse(name).success;
}

/** GCP label keys and values, also valid as Azure tags. https://cloud.google.com/compute/docs/labeling-resources */
export const labelKey = pattern(/^[a-z][a-z0-9_-]{0,62}$/, "must be a GCP label key: 1-63 lowercase letters, digits, '_' or '-', starting with a letter");
export const labelValue = pattern(/^[a-z0-9_-]{0,63}$/, "must be a GCP label value: at most 63 lowercase letters, digits, '_' or '-'");
