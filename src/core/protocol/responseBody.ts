/**
 * Turns the bytes of an authorization-server response into a flat object of members.
 *
 * @module
 */

import { DeviceFlowError } from '../errors.js';
import { jsonTextProblem, MAX_JSON_VALUES } from '../jsonLimits.js';

/**
 * The members of a response body, as the server sent them: those of a JSON object, or the fields of a form-encoded
 * body.
 *
 * @see [RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)
 * @see [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)
 */
export type ResponseMembers = Record<string, unknown>;

const utf8 = new TextDecoder('utf-8', { fatal: true });
// key=value pairs joined by '&': no whitespace, no markup, keys without '='.
const FORM_BODY = /^[^\s<>&=]+=[^\s<>&]*(?:&[^\s<>&=]+=[^\s<>&]*)*$/;

/**
 * Parses a response body as a JSON object, or as `application/x-www-form-urlencoded` members when the server answered
 * that way (GitHub does unless asked for JSON). The HTTP status plays no part: OAuth servers send errors with 200, 400
 * or 428 alike.
 *
 * Duplicated members keep their last value, as `JSON.parse` does.
 *
 * @throws {DeviceFlowError} `ServerError` when the body is empty, not UTF-8, neither a JSON object nor a form, or
 *   beyond the limits of `jsonLimits` (nested more than 32 levels deep, more than 4096 members and elements).
 * @see [RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1) (JSON) and
 *   [GitHub's device flow](https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps#device-flow)
 *   (form-encoded by default)
 */
export function parseResponseBody(bytes: Uint8Array, contentType: string | null, status?: number): ResponseMembers {
  const text = decodeUtf8(bytes, status).trim();
  if (text.length === 0) throw invalidBody('The server sent an empty response body', status);
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();

  if (text.startsWith('{') || mediaType === 'application/json' || mediaType.endsWith('+json')) {
    return parseJsonObject(text, status);
  }
  if (FORM_BODY.test(text) && (mediaType === '' || mediaType === 'application/x-www-form-urlencoded' || mediaType === 'text/plain')) {
    if (text.split('&', MAX_JSON_VALUES + 1).length > MAX_JSON_VALUES) throw invalidBody(`The server sent a form with more than ${MAX_JSON_VALUES} fields`, status);
    return Object.fromEntries(new URLSearchParams(text));
  }
  throw invalidBody(`The server sent a response that is neither JSON nor form-encoded (${mediaType || 'no content type'})`, status);
}

function decodeUtf8(bytes: Uint8Array, status: number | undefined): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw invalidBody('The server sent a response body that is not valid UTF-8', status);
  }
}

function parseJsonObject(text: string, status: number | undefined): ResponseMembers {
  // Checked before parsing: a deep value would exhaust the stack of whatever walks it later, a wide one blocks the
  // event loop while it is parsed.
  const problem = jsonTextProblem(text);
  if (problem !== null) throw invalidBody(`The server sent JSON that ${problem}`, status);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidBody('The server sent malformed JSON', status);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidBody('The server sent JSON that is not an object', status);
  }
  return value as ResponseMembers;
}

function invalidBody(message: string, status: number | undefined): DeviceFlowError {
  return new DeviceFlowError('ServerError', status === undefined ? message : `${message} (HTTP ${status})`, { status });
}
