/**
 * Equality for announced values, so that `…Changed` events fire only on change.
 *
 * @module
 */

/**
 * Whether two property values are the same: scope-token lists compare as sets (the order of scope tokens carries no
 * meaning), other objects by their JSON with sorted keys, everything else with `Object.is`.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return sameMembers(a, b);
  if (isObject(a) && isObject(b)) return stableJson(a) === stableJson(b);
  return false;
}

function sameMembers(a: readonly unknown[], b: readonly unknown[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((member) => right.has(member));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, member: unknown) =>
    isObject(member) ? Object.fromEntries(Object.entries(member).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) : member,
  );
}
