/**
 * The transport of flows given no `fetch` on Node.js: `createUndiciFetch()`'s form transport, made on the first
 * request. Importing the package therefore loads neither undici nor anything else of it; the first request pays for
 * that once (a few milliseconds), and every later one takes the short road at once.
 *
 * @module
 */

import { FORM_TRANSPORT, type FormTransport } from '../http/formTransport.js';

let transport: FormTransport | undefined;
let loading: Promise<FormTransport> | undefined;

/** Loads undici and makes the shared transport (a keep-alive pool), once; a failed load is tried again next time. */
function load(): Promise<FormTransport> {
  loading ??= import('./undiciFetch.js').then(
    ({ createUndiciFetch }) => (transport = createUndiciFetch()[FORM_TRANSPORT]!),
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
}

/**
 * Sends `request` through undici, loading it on the first call.
 *
 * @internal
 */
export const undiciOnFirstRequest: FormTransport = (request) => (transport !== undefined ? transport(request) : load().then((loaded) => loaded(request)));
