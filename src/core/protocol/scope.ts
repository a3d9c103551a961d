/**
 * Scope tokens: validation, splitting and joining.
 *
 * @module
 */

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Whether `token` is a valid scope token: one or more characters from `%x21 / %x23-5B / %x5D-7E`.
 *
 * @see [RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)
 */
export function isScopeToken(token: string): boolean {
  return SCOPE_TOKEN.test(token);
}

/** The index of the first member that is not a string accepted by {@link isScopeToken}, or -1 when all are valid. */
export function findInvalidScopeToken(tokens: readonly unknown[]): number {
  return tokens.findIndex((token) => typeof token !== 'string' || !isScopeToken(token));
}

/** The most scope tokens taken from a server's `scope`: real grants have a few dozen at most. */
export const MAX_SCOPE_TOKENS = 1000;

/**
 * Splits a granted `scope` on spaces, and on commas, which GitHub uses instead (`repo,gist`); empty parts and
 * duplicates are dropped. Scope tokens that contain a comma are therefore not supported in responses. Splitting stops
 * after {@link MAX_SCOPE_TOKENS} + 1 tokens, so that a longer result tells the caller the scope is too long without
 * the cost of splitting all of it.
 *
 * @see [RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)
 */
export function splitScope(scope: string): string[] {
  return uniqueTokens(scope.split(/[ ,]+/, MAX_SCOPE_TOKENS + 2).filter((part) => part.length > 0));
}

/** Joins scope tokens into a `scope` parameter. */
export function joinScope(tokens: readonly string[]): string {
  return tokens.join(' ');
}

/** The tokens in their first-seen order, without duplicates. */
export function uniqueTokens(tokens: Iterable<string>): string[] {
  return [...new Set(tokens)];
}
