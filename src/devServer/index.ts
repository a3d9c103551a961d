/**
 * `oauth2-device-flow/dev-server`: a real authorization server on this machine (oidc-provider, in memory) for
 * developing and testing against a device login, and a simulated user who approves or declines user codes on its
 * pages. Node.js only; needs the optional `oidc-provider` package.
 *
 * @module
 * @see [RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)
 */

export { startDevServer } from './server.js';
export type { DefaultClientName, DevServer, DevServerClient, DevServerClientOptions, DevServerOptions } from './server.js';
