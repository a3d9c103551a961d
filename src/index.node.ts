/**
 * The package's main entry on Node.js (the `node` condition of `exports["."]`): the main entry's API, unchanged, with
 * one difference: a flow given no `fetch` sends its requests through undici (as with `createUndiciFetch()`), at a
 * fraction of the global `fetch`'s CPU per request. undici is loaded on the first request, not here. A `fetch` given
 * is used as it is; browsers, Deno, Bun and other runtimes take the main entry and the global `fetch`.
 *
 * @module
 */

import { setDefaultFormTransport } from './http/formTransport.js';
import { undiciOnFirstRequest } from './node/defaultTransport.js';

setDefaultFormTransport(undiciOnFirstRequest);

export * from './index.js';
