/**
 * The exit codes of `device-flow`: one per outcome, so that scripts can tell them apart.
 *
 * @module
 */

import { isDeviceFlowError } from '../core/errors.js';
import { isAccessDenied } from '../core/protocol/serverError.js';

/** Exit code by outcome. */
export const EXIT_CODES = {
  /** Tokens were granted. */
  granted: 0,
  /** The server failed or answered something unusable. */
  serverError: 1,
  /**
   * The command line is wrong; also a profile whose store cannot be used (the keychain does not answer, the profile
   * directory cannot be written or locked).
   */
  usage: 2,
  /** The client or the endpoints are misconfigured (unknown client, wrong secret, no device endpoint…). */
  configuration: 3,
  /** The user declined. */
  denied: 4,
  /** The code expired before the user approved. */
  expired: 5,
  /** The authorization server could not be reached. */
  network: 6,
  /**
   * Tokens were granted (or refreshed), but `--output` or the profile could not be written (with `--json` they are
   * still printed; `token` still prints the token).
   */
  notSaved: 7,
  /** An optional package the command needs is not installed (`oidc-provider`, `@statelyai/inspect`). */
  missingPackage: 8,
  /**
   * A new sign-in is needed: no such profile, or one that is not signed in, cannot be read, or whose refresh token the
   * server refused (or that has none, and an expired access token). The line on stderr names the login command.
   */
  signInRequired: 9,
  /** `--timeout` ran out first. */
  timeout: 124,
  /** Ctrl-C. */
  cancelled: 130,
} as const;

export type Outcome = keyof typeof EXIT_CODES;

/** OAuth `error` values that mean the client, not the user or the server, is at fault. */
const CONFIGURATION_ERRORS = new Set([
  'invalid_client',
  'unauthorized_client',
  'invalid_scope',
  'invalid_request',
  'unsupported_grant_type',
  'device_flow_disabled',
  'incorrect_client_credentials',
]);

/** The outcome a failure of the flow stands for. */
export function outcomeOf(error: unknown): Outcome {
  if (!isDeviceFlowError(error)) return 'serverError';
  if (isAccessDenied(error)) return 'denied';
  switch (error.code) {
    case 'ExpiredError':
      return 'expired';
    case 'NetworkError':
      return 'network';
    case 'ClientError':
      return 'configuration';
    case 'ServerError':
      return error.error !== undefined && CONFIGURATION_ERRORS.has(error.error) ? 'configuration' : 'serverError';
    case 'OAuthTokenNotFoundError':
      return 'serverError';
  }
}
