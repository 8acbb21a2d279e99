/**
 * Recognising secret values where a name or a plain-text value was expected: error messages
 * must never echo them (CI logs keep stderr), and a secret pasted into `variables:` would be
 * stored in plain text, readable by anyone who can read the repository's settings.
 */

/** Token formats with a documented prefix, and what they are. */
const TOKEN_SHAPES: [RegExp, string][] = [
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/, "a GitHub token"],
  [/\bgithub_pat_[A-Za-z0-9_]{20,}/, "a GitHub fine-grained token"],
  [/\bnpm_[A-Za-z0-9]{30,}/, "an npm token"],
  [/\bpypi-[A-Za-z0-9_-]{40,}/, "a PyPI token"],
  [/\boy2[a-z0-9]{40,}/, "a NuGet API key"],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/, "a Slack token"],
  [/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/, "an AWS access key"],
  [/\bAIza[0-9A-Za-z_-]{35}/, "a Google API key"],
  [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\./, "a JSON Web Token"],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
  [/(?:^|;)\s*(?:AccountKey|SharedAccessKey|SharedAccessSignature)=/i, "an Azure connection string"],
];

/** URLs whose path or query is the credential. */
const SECRET_URLS: [RegExp, string][] = [
  [/^https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\//, "a Slack webhook URL (the URL is the credential)"],
  [/^https:\/\/(?:[a-z]+\.)?discord(?:app)?\.com\/api\/webhooks\//, "a Discord webhook URL (the URL is the credential)"],
  [/^https:\/\/[^/]*\.webhook\.office\.com\//, "a Microsoft Teams webhook URL (the URL is the credential)"],
  [/^https:\/\/[^/]*\.logic\.azure\.com\/.*[?&]sig=/, "an Azure Logic Apps trigger URL (its sig= is the credential)"],
];

/** Query parameters that carry credentials (SAS tokens, signed URLs, API keys). */
const SECRET_QUERY = /[?&](?:sig|signature|token|access_token|api[-_]?key|key|secret|password|pwd|code)=[^&]{6,}/i;
/** `scheme://user:password@host`. */
const URL_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]+@/i;

/**
 * What kind of secret `value` looks like ("a GitHub token", "a URL with a password"), or
 * undefined when it does not look like one. Specific enough to reject plain-text variables on.
 */
export function secretShape(value: string): string | undefined {
  for (const [shape, what] of TOKEN_SHAPES) if (shape.test(value)) return what;
  for (const [shape, what] of SECRET_URLS) if (shape.test(value)) return what;
  if (URL_PASSWORD.test(value)) return "a URL with a password";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && SECRET_QUERY.test(value)) return "a URL with a credential in its query";
  return undefined;
}

/** A long random-looking string: mixed case and digits, no spaces. */
const RANDOM_LOOKING = /^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)[A-Za-z0-9_\-+/=.]{20,}$/;

/**
 * True when `value` may be a secret, so a message must not repeat it. Broader than
 * `secretShape`: a false positive only hides a value from a message.
 */
export function mayBeSecret(value: string): boolean {
  return secretShape(value) !== undefined || RANDOM_LOOKING.test(value) || /^[A-Za-z0-9+/]{40,}={0,2}$/.test(value);
}
