/**
 * Equality for announced values, so that `…Changed` events fire only on change.
 *
 * @module
 */

/**
 * Whether two property values are the same: scope-token lists compare as sets (the order of scope tokens carries no
 * meaning), other objects member by member, everything else with `Object.is`. The comparison keeps its own stack, so
 * no value, however deep, can exhaust the call stack.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (isStringList(a) && isStringList(b)) return sameMembers(a, b);
  return sameJson(a, b);
}

function isStringList(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((member) => typeof member === 'string');
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((member) => right.has(member));
}

/** Deep equality of JSON-like values: arrays in order, objects by their own members whatever their order. */
function sameJson(a: unknown, b: unknown): boolean {
  const pending: [unknown, unknown][] = [[a, b]];
  for (let pair = pending.pop(); pair !== undefined; pair = pending.pop()) {
    const [left, right] = pair;
    if (Object.is(left, right)) continue;
    if (Array.isArray(left) && Array.isArray(right)) {
      if (left.length !== right.length) return false;
      for (let index = 0; index < left.length; index++) pending.push([left[index], right[index]]);
    } else if (isObject(left) && isObject(right)) {
      const names = Object.keys(left);
      if (names.length !== Object.keys(right).length) return false;
      for (const name of names) {
        if (!Object.hasOwn(right, name)) return false;
        pending.push([left[name], right[name]]);
      }
    } else return false;
  }
  return true;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
