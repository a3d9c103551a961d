/**
 * Maps an OAuth error response to a {@link DeviceFlowError}.
 *
 * @module
 */

import { DeviceFlowError, type DeviceFlowErrorCode, isDeviceFlowError, type OAuthErrorFields } from '../errors.js';
import { printable } from '../printable.js';

const MAX_DESCRIPTION_IN_MESSAGE = 300;

/**
 * The error to report for an OAuth error response: a `ServerError`, except `expired_token` from the token endpoint,
 * which is an `ExpiredError` (at the device authorization endpoint nothing can have expired yet; docs/qt-behaviour.md, "The user code"). The `error`,
 * `error_description` and `error_uri` members travel on the error unchanged.
 *
 * @see [RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5)
 */
export function serverReportedError(fields: OAuthErrorFields & { error: string }, endpoint: 'deviceAuthorization' | 'token' | 'revocation'): DeviceFlowError {
  const code: DeviceFlowErrorCode = endpoint === 'token' && fields.error === 'expired_token' ? 'ExpiredError' : 'ServerError';
  return new DeviceFlowError(code, `The authorization server reported "${printable(fields.error)}"${describe(fields.errorDescription)}`, fields);
}

function describe(description: string | undefined): string {
  if (description === undefined) return '';
  const text = printable(description);
  return `: ${text.length > MAX_DESCRIPTION_IN_MESSAGE ? `${text.slice(0, MAX_DESCRIPTION_IN_MESSAGE)}…` : text}`;
}

/** `error` values meaning the user said no: RFC 8628's, and Microsoft Entra ID's synonym. */
const DENIED = new Set(['access_denied', 'authorization_declined']);

/**
 * Whether `error` means that the user declined the authorization: `access_denied`, or the `authorization_declined`
 * Microsoft Entra ID sends instead.
 *
 * @see [RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5)
 */
export function isAccessDenied(error: unknown): boolean {
  return isDeviceFlowError(error) && error.code === 'ServerError' && error.error !== undefined && DENIED.has(error.error);
}

/** `error` values meaning that only a new sign-in can bring tokens: a refused refresh token, or none to refresh with. */
const SIGN_IN_REQUIRED = new Set(['invalid_grant', 'login_required']);

/**
 * Whether `error` means that the flow needs a new sign-in (`grant()`): the server refused the refresh token
 * (`invalid_grant`: expired, revoked, or spent by a rotation), or there is no refresh token (`login_required`).
 *
 * @see [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2) for `invalid_grant`
 * @see [OpenID Connect Core §3.1.2.6](https://openid.net/specs/openid-connect-core-1_0.html#AuthError) for `login_required`
 */
export function isSignInRequired(error: unknown): boolean {
  return isDeviceFlowError(error) && error.error !== undefined && SIGN_IN_REQUIRED.has(error.error);
}
