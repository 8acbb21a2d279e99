/**
 * Kubernetes resource quantities (`250m`, `16Gi`, `1.5`), as accepted by the API server's
 * `resource.Quantity` parser: a signed decimal number with an optional binary (Ki..Ei), decimal
 * (n, u, m, k, M, G, T, P, E) or exponent (e3) suffix.
 * https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
 */
const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

const MULTIPLIERS: Record<string, number> = {
  "": 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** True when `value` is a Kubernetes quantity. */
export function isQuantity(value: string): boolean {
  return QUANTITY.test(value);
}

/** The numeric value of a quantity in base units (cores, bytes); undefined when it is not one. */
export function quantityValue(value: string): number | undefined {
  const match = QUANTITY.exec(value);
  if (!match) return undefined;
  const [, number, suffix = ""] = match;
  const multiplier = /^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : MULTIPLIERS[suffix];
  return Number(number) * multiplier;
}
