/**
 * The form parameters of the three device-flow requests, and client authentication.
 *
 * @module
 */

import { joinScope } from './scope.js';

/**
 * The stage a request belongs to, with Qt's `QAbstractOAuth::Stage` names. The device flow uses three of them:
 * `RequestingAuthorization` for the device authorization request, `RequestingAccessToken` for polls, and
 * `RefreshingAccessToken` for refreshes; `RevokingToken`, this package's own, is a revocation request.
 *
 * @see [Qt's QAbstractOAuth::Stage](https://doc.qt.io/qt-6/qabstractoauth.html#Stage-enum)
 * @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1) for `RequestingAuthorization`
 * @see [RFC 8628 §3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4) for `RequestingAccessToken`
 * @see [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6) for `RefreshingAccessToken`
 * @see [RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1) for `RevokingToken`
 */
export type Stage = 'RequestingTemporaryCredentials' | 'RequestingAuthorization' | 'RequestingAccessToken' | 'RefreshingAccessToken' | 'RevokingToken';

/**
 * How the client authenticates at the device authorization and token endpoints.
 *
 * - `client_secret_post`: `client_secret` in the form body (Qt's behaviour, the default);
 * - `client_secret_basic`: HTTP Basic with form-encoded identifier and secret;
 * - `none`: a public client, identified by `client_id` only.
 *
 * `client_secret_post` and `client_secret_basic` fall back to `none` while no secret is set.
 *
 * @see [RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)
 * @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1)
 */
export type ClientAuthenticationMethod = 'client_secret_post' | 'client_secret_basic' | 'none';

/** The grant type of device-code polls. */
export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * Parameters of the device authorization request: `client_id`, then `scope` and `nonce` when there are any.
 *
 * @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1)
 */
export function deviceAuthorizationParameters(request: { clientIdentifier: string; scope: readonly string[]; nonce: string | null }): URLSearchParams {
  const params = new URLSearchParams({ client_id: request.clientIdentifier });
  if (request.scope.length > 0) params.set('scope', joinScope(request.scope));
  if (request.nonce !== null) params.set('nonce', request.nonce);
  return params;
}

/**
 * Parameters of a device access token request (a poll).
 *
 * @see [RFC 8628 §3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4)
 */
export function deviceCodeGrantParameters(request: { clientIdentifier: string; deviceCode: string }): URLSearchParams {
  return new URLSearchParams({ grant_type: DEVICE_CODE_GRANT_TYPE, device_code: request.deviceCode, client_id: request.clientIdentifier });
}

/**
 * Parameters of a refresh-token grant. No `scope`: the refreshed token keeps the granted scope.
 *
 * @see [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)
 */
export function refreshGrantParameters(request: { clientIdentifier: string; refreshToken: string }): URLSearchParams {
  return new URLSearchParams({ grant_type: 'refresh_token', refresh_token: request.refreshToken, client_id: request.clientIdentifier });
}

/**
 * Parameters of a revocation request: the token and what kind it is.
 *
 * @see [RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1)
 */
export function revocationParameters(request: { clientIdentifier: string; token: string; tokenTypeHint: 'refresh_token' | 'access_token' }): URLSearchParams {
  return new URLSearchParams({ token: request.token, token_type_hint: request.tokenTypeHint, client_id: request.clientIdentifier });
}

/**
 * Adds client authentication to a request: `client_secret` in the body, or an `Authorization: Basic` header. With
 * Basic, `client_id` stays in the body too: RFC 6749 §3.2.1 lets a client identify itself that way, and servers such
 * as Authlib (up to 1.6) file a device code under the body's `client_id` and refuse the polls of a client that left it
 * out. Without a secret the request stays as a public client's.
 *
 * @see [RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)
 * @see [RFC 6749 §3.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.2.1)
 */
export function authenticateClient(
  method: ClientAuthenticationMethod,
  credentials: { clientIdentifier: string; clientSecret: string },
  params: URLSearchParams,
  headers: Headers,
): void {
  if (method === 'none' || credentials.clientSecret === '') return;
  if (method === 'client_secret_post') {
    params.set('client_secret', credentials.clientSecret);
    return;
  }
  headers.set('authorization', `Basic ${btoa(`${formEncode(credentials.clientIdentifier)}:${formEncode(credentials.clientSecret)}`)}`);
}

function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice('v='.length);
}
