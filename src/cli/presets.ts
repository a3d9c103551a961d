/**
 * Providers `device-flow login --provider NAME` knows: their endpoints and the quirks that apply. Data only; the
 * library handles each quirk on its own (see the provider notes in the docs).
 *
 * @module
 */

import type { ClientAuthenticationMethod } from '../core/protocol/requests.js';

export interface ProviderPreset {
  /** How the provider is called in messages. */
  title: string;
  deviceAuthorizationUrl: string;
  tokenUrl: string;
  /** `{tenant}` in the URLs is replaced by `--tenant` or this. */
  defaultTenant?: string;
  /** Scope when `--scope` is not given. */
  defaultScope: string[];
  clientAuthentication: ClientAuthenticationMethod;
  /** The provider refuses polls without `client_secret` (a "TVs and Limited Input devices" client at Google). */
  requiresClientSecret: boolean;
  /** How this provider bends RFC 8628; shown by `device-flow providers`. */
  quirks: string[];
}

export const PRESETS = {
  github: {
    title: 'GitHub',
    deviceAuthorizationUrl: 'https://github.com/login/device/code',
    tokenUrl: 'https://github.com/login/oauth/access_token',
    defaultScope: [],
    clientAuthentication: 'none',
    requiresClientSecret: false,
    quirks: [
      'answers form-encoded unless asked for JSON',
      'sends errors with HTTP 200',
      'slow_down carries the new interval',
      'no verification_uri_complete',
      'error codes outside the RFC (incorrect_device_code, device_flow_disabled)',
      'comma-separated scope in token responses',
    ],
  },
  google: {
    title: 'Google',
    deviceAuthorizationUrl: 'https://oauth2.googleapis.com/device/code',
    tokenUrl: 'https://oauth2.googleapis.com/token',
    defaultScope: ['openid', 'email', 'profile'],
    clientAuthentication: 'client_secret_post',
    requiresClientSecret: true,
    quirks: ['verification_url instead of verification_uri', 'pending and slow_down with HTTP 428', 'client_secret required in the body'],
  },
  microsoft: {
    title: 'Microsoft Entra ID',
    deviceAuthorizationUrl: 'https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode',
    tokenUrl: 'https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token',
    defaultTenant: 'organizations',
    defaultScope: ['openid', 'profile', 'offline_access'],
    clientAuthentication: 'none',
    requiresClientSecret: false,
    quirks: ['a human-readable message member', 'authorization_declined instead of access_denied', 'error_codes arrays in error bodies', 'no verification_uri_complete'],
  },
  gitlab: {
    title: 'GitLab',
    deviceAuthorizationUrl: 'https://gitlab.com/oauth/authorize_device',
    tokenUrl: 'https://gitlab.com/oauth/token',
    defaultScope: ['read_user'],
    clientAuthentication: 'none',
    requiresClientSecret: false,
    quirks: ['sends verification_uri_complete; self-managed instances use their own host'],
  },
} as const satisfies Record<string, ProviderPreset>;

export type ProviderName = keyof typeof PRESETS;

/** Whether `name` is a known provider. */
export function isProviderName(name: string): name is ProviderName {
  return Object.hasOwn(PRESETS, name);
}

/** The preset's endpoints with `{tenant}` filled in. */
export function presetEndpoints(preset: ProviderPreset, tenant: string | undefined): { authorizationUrl: string; tokenUrl: string } {
  const fill = (url: string) => url.replace('{tenant}', encodeURIComponent(tenant ?? preset.defaultTenant ?? ''));
  return { authorizationUrl: fill(preset.deviceAuthorizationUrl), tokenUrl: fill(preset.tokenUrl) };
}
