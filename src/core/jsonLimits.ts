/**
 * How deep and how large a JSON value from outside may be: a server's answer or a restored snapshot. Within the 1 MiB
 * body cap a hostile server can still nest arrays thousands deep (which exhausts the stack of any recursive walk) or
 * send 70,000 members (whose parsing alone blocks the event loop for a tenth of a second); both are refused before
 * they reach the statechart.
 *
 * @module
 */

/** The deepest nesting of objects and arrays accepted. OAuth responses nest two or three levels. */
export const MAX_JSON_DEPTH = 32;

/** The most object members and array elements accepted in one value, all levels together. */
export const MAX_JSON_VALUES = 4096;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * Why the JSON text `text` exceeds {@link MAX_JSON_DEPTH} or {@link MAX_JSON_VALUES}, or `null`. One pass over the
 * characters, without recursion and without parsing, so that it is cheap on any input; malformed text is left to
 * `JSON.parse`.
 */
export function jsonTextProblem(text: string): string | null {
  let depth = 0;
  let values = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === BACKSLASH) index++;
      else if (code === QUOTE) inString = false;
    } else if (code === QUOTE) inString = true;
    else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      if (++depth > MAX_JSON_DEPTH) return tooDeep();
      if (++values > MAX_JSON_VALUES) return tooLarge();
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) depth--;
    else if (code === COMMA && ++values > MAX_JSON_VALUES) return tooLarge();
  }
  return null;
}

/**
 * Why `value` is not plain JSON within {@link MAX_JSON_DEPTH} and {@link MAX_JSON_VALUES}, or `null`: only objects
 * with the plain prototype, arrays, strings, finite numbers, booleans and `null`. A walk with its own stack, so a
 * cyclic or deep value is refused rather than followed.
 */
export function jsonValueProblem(value: unknown): string | null {
  const pending: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  let values = 0;
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const { value: current, depth } = item;
    if (current === null || typeof current === 'string' || typeof current === 'boolean') continue;
    if (typeof current === 'number') {
      if (!Number.isFinite(current)) return 'holds a number that is not finite';
      continue;
    }
    if (typeof current !== 'object') return `holds a ${typeof current}, which JSON cannot carry`;
    if (depth >= MAX_JSON_DEPTH) return tooDeep();
    const members = Array.isArray(current) ? current : isPlainObject(current) ? Object.values(current) : null;
    if (members === null) return 'holds an object that is not plain JSON';
    values += Math.max(1, members.length);
    if (values > MAX_JSON_VALUES) return tooLarge();
    for (const member of members) pending.push({ value: member, depth: depth + 1 });
  }
  return null;
}

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function tooDeep(): string {
  return `nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`;
}

function tooLarge(): string {
  return `holds more than ${MAX_JSON_VALUES} members and elements`;
}
