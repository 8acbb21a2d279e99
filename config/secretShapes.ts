/**
 * Recognising secret values where a name or a plain-text value was expected: error messages
 * must never echo them (CI logs keep stderr, and review.yml posts the plan into the pull
 * request), and a secret pasted into `variables:` would be stored in plain text, readable by
 * anyone who can read the repository's settings. Every shape is matched anywhere in a value, so
 * a `NAME=` prefix or a sentence around it does not hide it.
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
  // Three characters, a digit and "Q~" start every Entra ID client secret made since 2021.
  [/(?<![A-Za-z0-9_~.-])[A-Za-z0-9_.-]{3}\dQ~[A-Za-z0-9_~.-]{20,}/, "an Entra ID client secret"],
  [/(?:AccountKey|SharedAccessKey|SharedAccessSignature)=/i, "an Azure connection string"],
];

/** URLs whose path or query is the credential. */
const SECRET_URLS: [RegExp, string][] = [
  [/https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\//, "a Slack webhook URL (the URL is the credential)"],
  [/https:\/\/(?:[a-z]+\.)?discord(?:app)?\.com\/api\/webhooks\//, "a Discord webhook URL (the URL is the credential)"],
  [/https:\/\/[^/\s]*\.webhook\.office\.com\//, "a Microsoft Teams webhook URL (the URL is the credential)"],
  [/https:\/\/[^/\s]*\.logic\.azure\.com\/\S*[?&]sig=/, "an Azure Logic Apps trigger URL (its sig= is the credential)"],
];

/** A URL with a query parameter that carries a credential (SAS tokens, signed URLs, API keys). */
const SECRET_QUERY = /[a-z][a-z0-9+.-]*:\/\/\S*[?&](?:sig|signature|token|access_token|api[-_]?key|key|secret|password|pwd|code)=[^&\s]{6,}/i;
/** `scheme://user:password@host`. */
const URL_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]+@/i;

/**
 * What kind of secret `value` looks like ("a GitHub token", "a URL with a password"), or
 * undefined when it does not look like one. Specific enough to reject plain-text variables on.
 */
export function secretShape(value: string): string | undefined {
  for (const [shape, what] of TOKEN_SHAPES) if (shape.test(value)) return what;
  for (const [shape, what] of SECRET_URLS) if (shape.test(value)) return what;
  if (URL_PASSWORD.test(value)) return "a URL with a password";
  if (SECRET_QUERY.test(value)) return "a URL with a credential in its query";
  return undefined;
}

/** Shannon entropy in bits per character. */
function entropy(text: string): number {
  const counts = new Map<string, number>();
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) bits -= (n / text.length) * Math.log2(n / text.length);
  return bits;
}

const charClass = (c: string) => (/[a-z]/.test(c) ? 1 : /[A-Z]/.test(c) ? 2 : /\d/.test(c) ? 3 : 4);

/**
 * A run of letters and digits as generators make them: letters, digits and case mixed at random
 * (a class change at least every fourth character, 3.3 bits per character or more). Words and
 * numbers people write (`Production2024`) change class a few times only.
 */
function randomRun(run: string): boolean {
  if (run.length < 16 || !/\d/.test(run) || !/[A-Za-z]/.test(run)) return false;
  let changes = 0;
  for (let i = 1; i < run.length; i++) if (charClass(run[i]) !== charClass(run[i - 1])) changes++;
  return changes >= run.length / 4 && entropy(run) >= 3.3;
}

/** Runs of base64 characters without the separators names and sentences use. */
const runs = (text: string) => text.match(/[A-Za-z0-9+/~]+/g) ?? [];

/**
 * True when `text` holds random-looking key material anywhere: a run of 20 or more hex digits
 * (an API key, a signing key) or a random-looking base64 run. Refused as a secret or variable
 * name; a variable's value is judged by `randomToken`, since commit SHAs and digests are hex.
 */
export function keyMaterial(text: string): boolean {
  return runs(text).some((run) => (run.length >= 20 && /^[0-9a-f]+$/i.test(run) && /\d/.test(run) && /[a-f]/i.test(run)) || randomRun(run));
}

/** True when `value` holds a random-looking token with mixed case (not plain hex): a plain-text variable must not. */
export function randomToken(value: string): boolean {
  return runs(value).some((run) => randomRun(run) && /[a-z]/.test(run) && /[A-Z]/.test(run));
}

/** Words of a variable name that say it holds a credential; pairs are consecutive words. */
const CREDENTIAL_WORDS = ["PASSWORD", "PASSWD", "PWD", "PASSPHRASE", "SECRET", "SECRETS", "TOKEN", "TOKENS", "CREDENTIAL", "CREDENTIALS", "APIKEY", "WEBHOOK"];
const CREDENTIAL_PAIRS = [
  ["API", "KEY"],
  ["PRIVATE", "KEY"],
  ["ACCESS", "KEY"],
  ["SECRET", "KEY"],
  ["SIGNING", "KEY"],
  ["ENCRYPTION", "KEY"],
  ["DEPLOY", "KEY"],
  ["SSH", "KEY"],
  ["CONNECTION", "STRING"],
];

/**
 * The part of a variable name that says it holds a credential (`PASSWORD` in `DB_PASSWORD`,
 * `API_KEY` in `DatadogApiKey`), or undefined. Words are split at '_' and at case changes.
 */
export function credentialName(name: string): string | undefined {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toUpperCase()
    .split(/[^A-Z0-9]+/)
    .filter(Boolean);
  const word = words.find((w) => CREDENTIAL_WORDS.includes(w));
  if (word) return word;
  for (let i = 1; i < words.length; i++) {
    if (CREDENTIAL_PAIRS.some(([a, b]) => words[i - 1] === a && words[i] === b)) return `${words[i - 1]}_${words[i]}`;
  }
  return undefined;
}

/** A long random-looking string: mixed case and digits, no spaces. */
const RANDOM_LOOKING = /^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)[A-Za-z0-9_\-+/=.]{20,}$/;

/**
 * True when `value` may be a secret, so a message must not repeat it. Broader than
 * `secretShape`: a false positive only hides a value from a message.
 */
export function mayBeSecret(value: string): boolean {
  return secretShape(value) !== undefined || keyMaterial(value) || RANDOM_LOOKING.test(value) || /^[A-Za-z0-9+/]{40,}={0,2}$/.test(value);
}
