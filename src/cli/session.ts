/**
 * The commands that use a saved profile: `token` (a valid access token, for scripts), `status`, `refresh`, `logout`
 * and `profiles`. None prints a token except `token`, whose whole output is one.
 *
 * @module
 */

import { isDeviceFlowError, MissingPackageError } from '../core/errors.js';
import type { FlowProperties } from '../core/properties.js';
import { printable } from '../core/printable.js';
import { isSignInRequired } from '../core/protocol/serverError.js';
import { createPreciseClock } from '../flow/clocks.js';
import { OAuth2DeviceAuthorizationFlow } from '../flow/oauth2DeviceAuthorizationFlow.js';
import { EXIT_CODES, outcomeOf } from './exitCodes.js';
import type { CliIO } from './login.js';
import {
  allProfiles,
  factsOf,
  findProfile,
  isSignedIn,
  Profile,
  ProfileError,
  type ProfileRecord,
  propertiesOf,
  type SessionFacts,
  shellLine,
} from './profiles.js';
import { formatDuration, jsonLine } from './terminal.js';

type Env = Record<string, string | undefined>;

/** `refresh`'s `minValidity`: more than any token lives, so that `freshAccessToken()` always refreshes. */
const FORCE_REFRESH_SECONDS = 10 * 365 * 86_400;

/** A profile with its record read and checked. */
interface Opened {
  profile: Profile;
  record: ProfileRecord;
  properties: FlowProperties;
}

/** `device-flow token`: prints a valid access token, refreshing (and saving the rotation) when needed. */
export async function runToken(command: { profile: string; minValidity: number | null }, io: CliIO, env: Env): Promise<number> {
  const opened = await open(command.profile, io, env);
  if (typeof opened === 'number') return opened;
  const { profile, record, properties } = opened;
  if (properties.token === '' && properties.refreshToken === '') return notSignedIn(profile, record, io);
  const flow = flowOf(opened);
  let saveError: string | null = null;
  flow.on('saveFailed', (error) => (saveError = error.message));
  try {
    const token = await flow.freshAccessToken(command.minValidity === null ? {} : { minValidity: command.minValidity });
    await flow.saved();
    io.stdout.write(`${token}\n`);
    if (saveError !== null) {
      return notSaved(profile, saveError, io);
    }
    return EXIT_CODES.granted;
  } catch (error) {
    return refreshFailure(error, opened, io);
  } finally {
    flow.dispose();
  }
}

/** `device-flow refresh`: refreshes now, whether the token needs it or not, and saves. */
export async function runRefresh(command: { profile: string }, io: CliIO, env: Env): Promise<number> {
  const opened = await open(command.profile, io, env);
  if (typeof opened === 'number') return opened;
  const { profile, record, properties } = opened;
  if (properties.refreshToken === '') {
    const why = properties.token === '' ? 'is not signed in' : 'has no refresh token to refresh with';
    io.stderr.write(`device-flow: profile ${profile.name} ${why}: run ${loginHint(profile, record.login, factsOf(properties))}\n`);
    return EXIT_CODES.signInRequired;
  }
  let flow: OAuth2DeviceAuthorizationFlow | null = null;
  let saveError: string | null = null;
  const follow = (next: OAuth2DeviceAuthorizationFlow) => {
    flow = next;
    next.on('saveFailed', (error) => (saveError = error.message));
    return next;
  };
  try {
    if (properties.expirationAt !== null) {
      // Under the profile's lock, after re-reading it: a refresh another process made meanwhile is not undone.
      await follow(flowOf(opened)).freshAccessToken({ minValidity: FORCE_REFRESH_SECONDS });
    } else {
      // No expiry to go by: a refresh of its own, under the lock, from the profile as it is then.
      await profile.lock(async () => {
        const current = await open(profile.name, io, env, profile);
        if (typeof current === 'number') throw new Reported(current);
        await refreshNow(follow(flowOf(current)));
      });
    }
    const refreshed = flow! as OAuth2DeviceAuthorizationFlow;
    await refreshed.saved();
    if (saveError !== null) {
      return notSaved(profile, saveError, io);
    }
    io.stderr.write(`Refreshed profile ${profile.name}: the new access token ${validity(refreshed.expirationAt?.getTime() ?? null, Date.now())}.\n`);
    return EXIT_CODES.granted;
  } catch (error) {
    if (error instanceof Reported) return error.code;
    return refreshFailure(error, opened, io);
  } finally {
    (flow as OAuth2DeviceAuthorizationFlow | null)?.dispose();
  }
}

/** Says that a refreshed token could not be saved to `profile`; exit 7. */
function notSaved(profile: Profile, saveError: string, io: CliIO): number {
  io.stderr.write(`device-flow: the token was refreshed, but profile ${profile.name} could not be saved (${printable(saveError)}): the next command may need a new sign-in\n`);
  return EXIT_CODES.notSaved;
}

/** An exit code whose message is already out. */
class Reported extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Refreshes `flow` once; a refused refresh token forgets the tokens (saved), as `freshAccessToken()` does. */
async function refreshNow(flow: OAuth2DeviceAuthorizationFlow): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const stops = [
      flow.on('granted', () => {
        for (const stop of stops) stop();
        resolve();
      }),
      flow.on('requestFailed', (error) => {
        for (const stop of stops) stop();
        reject(error);
      }),
    ];
    flow.refreshTokens();
  }).catch(async (error: unknown) => {
    if (isSignInRequired(error)) {
      flow.token = '';
      flow.refreshToken = '';
    }
    await flow.saved();
    throw error;
  });
  await flow.saved();
}

/** `device-flow status`: what the profile holds, never a token; exit 9 when it is not signed in. */
export async function runStatus(command: { profile: string; json: boolean }, io: CliIO, env: Env): Promise<number> {
  const opened = await open(command.profile, io, env);
  if (typeof opened === 'number') return opened;
  const status = statusOf(opened, Date.now());
  io.stdout.write(command.json ? jsonLine(status) : describeStatus(status));
  return status.signedIn ? EXIT_CODES.granted : EXIT_CODES.signInRequired;
}

/** `device-flow status --json`: docs/schemas/device-flow-status.schema.json. */
export interface StatusJson {
  profile: string;
  store: 'file' | 'keychain';
  location: string;
  signedIn: boolean;
  issuer: string | null;
  tokenUrl: string | null;
  clientId: string;
  confidential: boolean;
  subject: string | null;
  scope: string[];
  tokenType: string | null;
  hasAccessToken: boolean;
  accessTokenExpiresAt: string | null;
  accessTokenExpiresIn: number | null;
  hasRefreshToken: boolean;
  refreshTokenExpiresAt: string | null;
  pendingSignIn: { userCode: string; verificationUrl: string | null; expiresAt: string | null } | null;
}

function statusOf({ profile, record, properties }: Opened, now: number): StatusJson {
  const facts = factsOf(properties);
  const sub = properties.idTokenClaims?.['sub'];
  const refreshExpiry = refreshTokenExpiry(record, properties);
  const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());
  return {
    profile: profile.name,
    store: profile.kind,
    location: profile.kind === 'file' ? profile.file : profile.location,
    signedIn: isSignedIn(facts, now),
    issuer: properties.issuer,
    tokenUrl: properties.tokenUrl,
    clientId: properties.clientIdentifier,
    confidential: (record.clientSecret ?? '') !== '',
    subject: typeof sub === 'string' ? sub : null,
    scope: [...properties.grantedScopeTokens],
    tokenType: properties.tokenType === '' ? null : properties.tokenType,
    hasAccessToken: facts.hasAccessToken,
    accessTokenExpiresAt: iso(facts.accessTokenExpiresAt),
    accessTokenExpiresIn: facts.accessTokenExpiresAt === null ? null : Math.max(0, Math.floor((facts.accessTokenExpiresAt - now) / 1000)),
    hasRefreshToken: facts.hasRefreshToken,
    refreshTokenExpiresAt: facts.hasRefreshToken ? iso(refreshExpiry) : null,
    pendingSignIn:
      properties.userCode !== '' && properties.token === ''
        ? { userCode: properties.userCode, verificationUrl: properties.verificationUrl, expiresAt: iso(properties.userCodeExpirationAt) }
        : null,
  };
}

/**
 * When the refresh token expires, when the server said: Keycloak's `refresh_expires_in`, or the
 * `refresh_token_expires_in` of GitHub's expiring user tokens, counted from when the profile was saved with them.
 */
function refreshTokenExpiry(record: ProfileRecord, properties: FlowProperties): number | null {
  const { extraTokens } = properties;
  const seconds = [extraTokens['refresh_expires_in'], extraTokens['refresh_token_expires_in']].find((value) => typeof value === 'number' && Number.isFinite(value) && value > 0) as number | undefined;
  const savedAt = Date.parse(String(record.snapshot['savedAt']));
  return seconds === undefined || !Number.isFinite(savedAt) ? null : savedAt + seconds * 1000;
}

function describeStatus(status: StatusJson): string {
  const now = Date.now();
  const rows: [string, string][] = [
    ['store', status.store === 'file' ? `file ${status.location}` : status.location],
    status.issuer === null ? ['token endpoint', status.tokenUrl ?? '(none)'] : ['issuer', status.issuer],
    ['client', `${status.clientId}${status.confidential ? ' (confidential: its secret is kept too)' : ''}`],
    ['subject', status.subject ?? '(unknown: no validated ID token)'],
    ['scope', status.scope.length > 0 ? status.scope.join(' ') : '(none granted, or as requested)'],
    ['token type', status.tokenType ?? '(none)'],
  ];
  const at = (iso: string) => Date.parse(iso);
  if (!status.hasAccessToken) rows.push(['access token', 'none']);
  else if (status.accessTokenExpiresAt === null) rows.push(['access token', 'present (lifetime unknown: the server did not say)']);
  else if (at(status.accessTokenExpiresAt) > now) rows.push(['access token', `valid for ${formatDuration(at(status.accessTokenExpiresAt) - now)} (until ${status.accessTokenExpiresAt})`]);
  else rows.push(['access token', `expired ${formatDuration(now - at(status.accessTokenExpiresAt))} ago (at ${status.accessTokenExpiresAt})${status.hasRefreshToken ? '; the next token command refreshes it' : ''}`]);
  if (!status.hasRefreshToken) rows.push(['refresh token', 'none']);
  else if (status.refreshTokenExpiresAt === null) rows.push(['refresh token', 'present (lifetime unknown)']);
  else rows.push(['refresh token', `present, expires in ${formatDuration(at(status.refreshTokenExpiresAt) - now)} (at ${status.refreshTokenExpiresAt})`]);
  const pending = status.pendingSignIn;
  if (pending !== null) rows.push(['sign-in', `waiting for approval: code ${pending.userCode} at ${pending.verificationUrl ?? '(unknown)'}`]);
  const head = `Profile ${status.profile}: ${status.signedIn ? 'signed in' : `not signed in`}`;
  return `${head}\n${rows.map(([name, value]) => `  ${name.padEnd(14)} ${printable(value)}`).join('\n')}\n`;
}

/** `device-flow profiles`: every profile, its store, server, client and whether it is signed in. */
export async function runProfiles(command: { json: boolean }, io: CliIO, env: Env): Promise<number> {
  const now = Date.now();
  const rows: ProfileJson[] = [];
  for (const profile of await allProfiles(env)) rows.push(await summaryOf(profile, now));
  if (command.json) {
    io.stdout.write(jsonLine({ profiles: rows }));
    return EXIT_CODES.granted;
  }
  if (rows.length === 0) {
    io.stderr.write('No profiles yet: sign in with device-flow login --issuer URL --client-id ID [--profile NAME]\n');
    return EXIT_CODES.granted;
  }
  const table = [
    ['NAME', 'STORE', 'SIGNED IN', 'CLIENT', 'SERVER'],
    ...rows.map((row) => [row.name, row.store, row.error === undefined ? (row.signedIn ? 'yes' : 'no') : 'unreadable', row.clientId ?? '-', row.issuer ?? row.tokenUrl ?? '-']),
  ];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((cells) => cells[column]!.length)));
  io.stdout.write(table.map((cells) => printable(cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '))).join('\n') + '\n');
  return EXIT_CODES.granted;
}

/** One entry of `device-flow profiles --json`: docs/schemas/device-flow-profiles.schema.json. */
interface ProfileJson {
  name: string;
  store: 'file' | 'keychain';
  issuer: string | null;
  tokenUrl: string | null;
  clientId: string | null;
  signedIn: boolean;
  /** Why the profile cannot be read, when it cannot. */
  error?: string;
}

async function summaryOf(profile: Profile, now: number): Promise<ProfileJson> {
  const base = { name: profile.name, store: profile.kind };
  const of = (facts: SessionFacts): ProfileJson => ({ ...base, issuer: facts.issuer, tokenUrl: facts.tokenUrl, clientId: facts.clientId, signedIn: isSignedIn(facts, now) });
  const unreadable = (error: string): ProfileJson => ({ ...base, issuer: null, tokenUrl: null, clientId: null, signedIn: false, error });
  if (profile.kind === 'keychain') {
    // From the marker: listing does not unlock the keychain.
    const facts = await profile.markerFacts();
    return facts === null ? unreadable(`its marker ${profile.file} cannot be read`) : of(facts);
  }
  try {
    const record = await profile.read();
    return record === null ? unreadable('it has gone') : of(factsOf(propertiesOf(record)));
  } catch (error) {
    if (error instanceof ProfileError) return unreadable(error.message);
    throw error;
  }
}

/** `device-flow logout`: revokes the tokens where the server can, then deletes the profile, also when it could not. */
export async function runLogout(command: { profile: string }, io: CliIO, env: Env): Promise<number> {
  const profile = await findProfile(command.profile, env);
  if (profile === null) return noSuchProfile(command.profile, io);
  try {
    return await profile.lock(async () => {
      let record: ProfileRecord | null = null;
      let unreadable: string | null = null;
      try {
        record = await profile.read();
      } catch (error) {
        if (!(error instanceof ProfileError && error.kind === 'unreadable')) throw error;
        unreadable = error.message;
      }
      const properties = record === null ? null : propertiesOf(record);
      let warning: string | null = unreadable === null ? null : `could not read it to revoke its tokens (${unreadable})`;
      let revoked = false;
      if (record !== null && properties !== null && (properties.token !== '' || properties.refreshToken !== '')) {
        if (properties.revocationUrl === null) {
          warning = 'its server has no revocation endpoint, so its tokens stay valid there until they expire';
        } else {
          const flow = flowOf({ profile, record, properties }, { store: false });
          try {
            await flow.revokeTokens();
            revoked = true;
          } catch (error) {
            warning = `could not revoke its tokens at the server (${printable(error instanceof Error ? error.message : String(error))}): they stay valid there until they expire`;
          } finally {
            flow.dispose();
          }
        }
      }
      await profile.remove();
      if (warning !== null) io.stderr.write(`device-flow: deleted profile ${profile.name}, but ${warning}\n`);
      else io.stderr.write(`Signed out: ${revoked ? 'revoked the tokens of profile' : 'deleted profile'} ${profile.name}${revoked ? ' and deleted it' : ''}.\n`);
      return EXIT_CODES.granted;
    });
  } catch (error) {
    return profileFailure(error, profile, undefined, io);
  }
}

/**
 * The flow of an opened profile, saving into it (unless `store` is false), with the client secret it keeps. Its clock's
 * timers never hold the process open: these commands wait for requests, not timers. (The flow's default clock, on
 * resuming a granted snapshot, asks the flow whether it is granted before the flow is built, and the process fails a
 * moment later.)
 */
function flowOf({ profile, record }: Opened, { store = true } = {}): OAuth2DeviceAuthorizationFlow {
  return new OAuth2DeviceAuthorizationFlow({
    clock: createPreciseClock(() => true),
    snapshot: JSON.stringify(record.snapshot),
    clientIdentifierSharedKey: record.clientSecret ?? '',
    ...(store ? { tokenStore: profile.tokenStore({ clientSecret: record.clientSecret, login: record.login }) } : {}),
  });
}

/**
 * Finds and reads profile `name`; or says why it cannot and returns the exit code: 9 when there is none or it cannot
 * be read (a new login replaces it), 2 when its store cannot be reached.
 */
async function open(name: string, io: CliIO, env: Env, known?: Profile): Promise<Opened | number> {
  const profile = known ?? (await findProfile(name, env));
  if (profile === null) return noSuchProfile(name, io);
  try {
    const record = await profile.read();
    if (record === null) {
      const marker = await profile.markerFacts();
      io.stderr.write(`device-flow: profile ${profile.name} is no longer in ${profile.location}: sign in again with ${loginHint(profile, marker?.login, marker)}\n`);
      return EXIT_CODES.signInRequired;
    }
    return { profile, record, properties: propertiesOf(record) };
  } catch (error) {
    return profileFailure(error, profile, (await profile.markerFacts())?.login, io);
  }
}

function noSuchProfile(name: string, io: CliIO): number {
  const flag = name === 'default' ? '' : ` --profile ${name}`;
  io.stderr.write(`device-flow: no profile named ${name}: sign in with device-flow login --issuer URL --client-id ID${flag} (device-flow profiles lists them)\n`);
  return EXIT_CODES.signInRequired;
}

function notSignedIn(profile: Profile, record: ProfileRecord, io: CliIO): number {
  io.stderr.write(`device-flow: profile ${profile.name} is not signed in: run ${loginHint(profile, record.login, factsOf(propertiesOf(record)))}\n`);
  return EXIT_CODES.signInRequired;
}

/** The exit code of a profile that cannot be used, with its line on stderr; anything else is rethrown. */
function profileFailure(error: unknown, profile: Profile, login: string[] | undefined, io: CliIO): number {
  if (!(error instanceof ProfileError)) throw error;
  if (error.kind === 'store') {
    io.stderr.write(`device-flow: ${error.message}\n`);
    return EXIT_CODES.usage;
  }
  io.stderr.write(`device-flow: ${error.message}; sign in again with ${loginHint(profile, login)}, which replaces it\n`);
  return EXIT_CODES.signInRequired;
}

/** The exit code of a refresh that failed, with its line on stderr. */
function refreshFailure(error: unknown, { profile, record, properties }: Opened, io: CliIO): number {
  if (error instanceof MissingPackageError) throw error;
  if (error instanceof ProfileError) return profileFailure(error, profile, record.login, io);
  const hint = loginHint(profile, record.login, factsOf(properties));
  if (isSignInRequired(error)) {
    const why =
      isDeviceFlowError(error) && error.error === 'invalid_grant'
        ? 'the server refused its refresh token (expired, revoked, or already used)'
        : 'its access token has expired and it has no refresh token';
    io.stderr.write(`device-flow: profile ${profile.name} needs a new sign-in: ${why}; run ${hint}\n`);
    return EXIT_CODES.signInRequired;
  }
  const outcome = outcomeOf(error);
  const detail = printable(error instanceof Error ? error.message : String(error));
  const line =
    outcome === 'network'
      ? `could not reach the authorization server to refresh profile ${profile.name}: ${detail}`
      : outcome === 'configuration'
        ? `the authorization server refused the client of profile ${profile.name}: ${detail}; if the client changed, run ${hint}`
        : `the authorization server failed to refresh profile ${profile.name}: ${detail}`;
  io.stderr.write(`device-flow: ${line}\n`);
  return EXIT_CODES[outcome];
}

/** The command that signs profile `profile` in again, as its login was given (without secrets). */
function loginHint(profile: Profile, login: readonly string[] | undefined, facts?: Pick<SessionFacts, 'issuer' | 'clientId'> | null): string {
  const args = login ?? (facts?.issuer ? ['--issuer', facts.issuer, '--client-id', facts.clientId || 'ID'] : ['--issuer', 'URL', '--client-id', 'ID']);
  return `device-flow ${shellLine(['login', ...args])}${profile.flag}`;
}

/** `is valid for 0:59:59 (until …)`, or that its lifetime is unknown. */
function validity(expiresAt: number | null, now: number): string {
  if (expiresAt === null) return 'has no known lifetime (the server did not say)';
  return `is valid for ${formatDuration(expiresAt - now)} (until ${new Date(expiresAt).toISOString()})`;
}
