/**
 * Node.js-only additions: a `fetch` over undici for many concurrent flows.
 *
 * @module
 */

export { createUndiciFetch } from './undiciFetch.js';
export type { UndiciFetchOptions } from './undiciFetch.js';
