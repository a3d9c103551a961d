/**
 * Node.js-only additions: a `fetch` over undici for many concurrent flows, and the Stately inspector's relay bound to
 * 127.0.0.1.
 *
 * @module
 */

export { createUndiciFetch } from './undiciFetch.js';
export type { UndiciFetchOptions } from './undiciFetch.js';
export { startInspectorRelay } from './inspectorRelay.js';
export type { InspectorRelay } from './inspectorRelay.js';
