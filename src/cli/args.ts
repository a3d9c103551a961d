/**
 * The command line of `device-flow`: parsed with `node:util`'s `parseArgs`, checked, and turned into a command.
 * Every mistake becomes a {@link UsageError} whose one-line message names the fix.
 *
 * @module
 */

import { parseArgs } from 'node:util';
import type { ClientAuthenticationMethod } from '../core/protocol/requests.js';
import { findInvalidScopeToken } from '../core/protocol/scope.js';
import { isSecureEndpoint, parseHttpUrl, plainHttpProblem } from '../core/protocol/urls.js';
import { isProviderName, PRESETS, type ProviderName } from './presets.js';
import { DEFAULT_PROFILE, profileNameProblem, STORE_CHOICES, type StoreChoice } from './profiles.js';

/** A mistake on the command line. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Options every login takes. */
export interface OutputOptions {
  /** The result as JSON on stdout, human text on stderr. */
  json: boolean;
  /** Where to write the full tokens (mode 0600). */
  output: string | null;
  qr: boolean;
  /** Seconds before giving up; `null` waits for the code to expire. */
  timeout: number | null;
  inspect: boolean;
  /**
   * Open the verification URL in a browser: `browser` to do so, `ssh` when asked to in an SSH session (where the
   * browser would open on the remote machine, not in front of the user), `null` when not asked.
   */
  open: 'browser' | 'ssh' | null;
  /** `null`: the default of the provider or server. */
  scope: string[] | null;
  /** Bind the tokens to a key made for this run, with DPoP (RFC 9449). */
  dpop: boolean;
}

/** How `device-flow serve` runs the local authorization server. */
export interface ServeOptions {
  port: number;
  /** The polling interval the server announces and enforces, in seconds; `null` for none. */
  interval: number | null;
  codeLifetime: number;
  accessTokenLifetime: number;
}

/** The port `device-flow serve` listens on by default: RFC 8628's number. */
export const DEFAULT_SERVE_PORT = 8628;

/** Where the authorization server is. */
export type ServerChoice =
  | { kind: 'issuer'; issuer: string }
  | { kind: 'endpoints'; authorizationUrl: string; tokenUrl: string }
  | { kind: 'provider'; provider: ProviderName; tenant: string | undefined };

export type Command =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'providers' }
  | ({ kind: 'demo'; interactive: boolean } & OutputOptions)
  | ({ kind: 'serve' } & ServeOptions)
  | ({
      kind: 'login';
      server: ServerChoice;
      clientIdentifier: string;
      clientSecret: string;
      clientAuthentication: ClientAuthenticationMethod | null;
      /** Plain-http endpoints beyond loopback are allowed. */
      allowInsecureHttp: boolean;
      /** The profile to save the session as. */
      profile: string;
      /** Where to save it: `none` saves nothing. */
      store: StoreChoice;
      /** The login's arguments without secrets or output options: what signs the profile in again. */
      loginArgs: string[];
    } & OutputOptions)
  | { kind: 'token'; profile: string; minValidity: number | null }
  | { kind: 'status'; profile: string; json: boolean }
  | { kind: 'refresh'; profile: string }
  | { kind: 'logout'; profile: string }
  | { kind: 'profiles'; json: boolean };

const OPTIONS = {
  interactive: { type: 'boolean' },
  issuer: { type: 'string' },
  'authorization-url': { type: 'string' },
  'token-url': { type: 'string' },
  provider: { type: 'string' },
  tenant: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  'client-auth': { type: 'string' },
  scope: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  output: { type: 'string' },
  'no-qr': { type: 'boolean' },
  timeout: { type: 'string' },
  inspect: { type: 'boolean' },
  'allow-insecure-http': { type: 'boolean' },
  open: { type: 'boolean' },
  dpop: { type: 'boolean' },
  port: { type: 'string' },
  interval: { type: 'string' },
  'code-lifetime': { type: 'string' },
  'access-token-lifetime': { type: 'string' },
  profile: { type: 'string' },
  store: { type: 'string' },
  'min-validity': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

const LOGIN_ONLY = ['issuer', 'authorization-url', 'token-url', 'provider', 'tenant', 'client-id', 'client-secret', 'client-auth', 'allow-insecure-http', 'store'] as const;
const SERVE_ONLY = ['port', 'interval', 'code-lifetime', 'access-token-lifetime'] as const;
const CLIENT_AUTH: Record<string, ClientAuthenticationMethod> = { post: 'client_secret_post', basic: 'client_secret_basic', none: 'none' };

type OptionName = keyof typeof OPTIONS;

/** The commands that use a saved profile, with the options each takes. */
const PROFILE_COMMANDS = {
  token: ['profile', 'min-validity'],
  status: ['profile', 'json'],
  refresh: ['profile'],
  logout: ['profile'],
  profiles: ['json'],
} as const satisfies Record<string, readonly OptionName[]>;

type ProfileCommand = keyof typeof PROFILE_COMMANDS;

/** The commands each option goes with, to name them when it is given to another. */
const OWNERS: Record<Exclude<OptionName, 'help' | 'version'>, string> = {
  interactive: 'the demo',
  issuer: 'login',
  'authorization-url': 'login',
  'token-url': 'login',
  provider: 'login',
  tenant: 'login',
  'client-id': 'login',
  'client-secret': 'login',
  'client-auth': 'login',
  scope: 'login and the demo',
  json: 'login, the demo, status and profiles',
  output: 'login and the demo',
  'no-qr': 'login and the demo',
  timeout: 'login and the demo',
  inspect: 'login and the demo',
  'allow-insecure-http': 'login',
  open: 'login and the demo',
  dpop: 'login and the demo',
  port: 'serve',
  interval: 'serve',
  'code-lifetime': 'serve',
  'access-token-lifetime': 'serve',
  profile: 'login, token, status, refresh and logout',
  store: 'login',
  'min-validity': 'token',
};

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/**
 * The command `argv` (without `node` and the script) asks for.
 *
 * @param env the environment, for `DEVICE_FLOW_CLIENT_SECRET`: a secret on the command line shows in `ps`.
 * @throws {UsageError} with a one-line message naming the fix.
 */
export function parseCommand(argv: readonly string[], env: Record<string, string | undefined> = {}): Command {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: withNegativeValues(argv), options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(explainParseError(error as Error & { code?: string }));
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  const [command = 'demo', ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}; see device-flow --help`);
  switch (command) {
    case 'help':
      return { kind: 'help' };
    case 'providers':
      return { kind: 'providers' };
    case 'demo':
      return demoCommand(values, env);
    case 'serve':
      return serveCommand(values);
    case 'login':
      return loginCommand(values, env);
    case 'token':
    case 'status':
    case 'refresh':
    case 'logout':
    case 'profiles':
      return profileCommand(command, values);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}: use login, token, status, refresh, logout, profiles, demo, serve or providers`);
  }
}

function profileCommand(command: ProfileCommand, values: Values): Command {
  const takes: readonly OptionName[] = PROFILE_COMMANDS[command];
  const misplaced = (Object.keys(values) as OptionName[]).find((name) => !takes.includes(name));
  if (misplaced !== undefined) {
    const owner = OWNERS[misplaced as keyof typeof OWNERS];
    const options = takes.map((name) => `--${name}`);
    const own = options.length === 1 ? `only ${options[0]}` : `${options.slice(0, -1).join(', ')} and ${options.at(-1)}`;
    throw new UsageError(`--${misplaced} does not go with ${command}: it belongs to ${owner}, and ${command} takes ${own}`);
  }
  const profile = profileName(values);
  switch (command) {
    case 'token':
      return { kind: 'token', profile, minValidity: values['min-validity'] === undefined ? null : minValidity(values['min-validity']) };
    case 'status':
      return { kind: 'status', profile, json: values.json ?? false };
    case 'refresh':
      return { kind: 'refresh', profile };
    case 'logout':
      return { kind: 'logout', profile };
    case 'profiles':
      return { kind: 'profiles', json: values.json ?? false };
  }
}

/** `--profile`'s name, checked; `default` without it. */
function profileName(values: Values): string {
  const name = values.profile ?? DEFAULT_PROFILE;
  const problem = profileNameProblem(name);
  if (problem !== null) throw new UsageError(problem);
  return name;
}

/** `--min-validity`: seconds, 0 to a day. */
function minValidity(value: string): number {
  const number = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || number > MAX_SECONDS) throw new UsageError(`--min-validity takes a number of seconds from 0 to ${MAX_SECONDS}, not ${JSON.stringify(value)}`);
  return number;
}

/** Where `login` saves the profile: `--store`, else `DEVICE_FLOW_STORE`, else the keychain when there is one. */
function storeChoice(values: Values, env: Record<string, string | undefined>): StoreChoice {
  const given = values.store;
  if (given !== undefined) {
    if (!(STORE_CHOICES as readonly string[]).includes(given)) throw new UsageError(`--store must be keychain, file or none, not ${JSON.stringify(given)}`);
    if (given === 'none' && values.profile !== undefined) throw new UsageError('--profile does not go with --store none, which saves nothing: leave one out');
    return given as StoreChoice;
  }
  const fromEnv = env.DEVICE_FLOW_STORE;
  if (fromEnv === undefined || fromEnv === '') return 'auto';
  if (!(STORE_CHOICES as readonly string[]).includes(fromEnv)) throw new UsageError(`DEVICE_FLOW_STORE must be keychain, file or none, not ${JSON.stringify(fromEnv)}: fix or unset it, or give --store`);
  if (fromEnv === 'none' && values.profile !== undefined) throw new UsageError('--profile needs a store, but DEVICE_FLOW_STORE is none: add --store keychain or --store file');
  return fromEnv as StoreChoice;
}

/** The arguments that sign in as `command` again: the server, the client and the scope, never a secret. */
function loginArgsOf(server: ServerChoice, values: Values): string[] {
  const args: string[] =
    server.kind === 'issuer'
      ? ['--issuer', values.issuer!]
      : server.kind === 'provider'
        ? ['--provider', server.provider, ...(server.tenant === undefined ? [] : ['--tenant', server.tenant])]
        : ['--authorization-url', values['authorization-url']!, '--token-url', values['token-url']!];
  args.push('--client-id', values['client-id']!);
  if (values['client-auth'] !== undefined) args.push('--client-auth', values['client-auth']);
  if (values.scope !== undefined) args.push('--scope', scopeTokens(values.scope).join(' '));
  if (values['allow-insecure-http']) args.push('--allow-insecure-http');
  if (values.dpop) args.push('--dpop');
  return args;
}

/** Refuses the options of the commands that use a profile, naming the command they belong to. */
function rejectProfileOptions(values: Values, command: 'demo' | 'login'): void {
  if (values['min-validity'] !== undefined) throw new UsageError('--min-validity belongs to the token command: run device-flow token --min-validity …');
  if (command === 'demo' && values.profile !== undefined) {
    throw new UsageError('--profile does not go with the demo, whose server and tokens end with it: sign in with device-flow login --profile …');
  }
}

function serveCommand(values: Values): Command {
  const misplaced = (Object.keys(values) as (keyof typeof OPTIONS)[]).find((name) => !(SERVE_ONLY as readonly string[]).includes(name));
  if (misplaced) throw new UsageError(`--${misplaced} does not go with serve: it takes --port, --interval, --code-lifetime and --access-token-lifetime`);
  const port = values.port === undefined ? DEFAULT_SERVE_PORT : Number(values.port);
  if (!/^\d+$/.test(values.port ?? '0') || port > 65_535) throw new UsageError(`--port takes a port number from 0 to 65535, not ${JSON.stringify(values.port)}`);
  return {
    kind: 'serve',
    port,
    interval: values.interval === undefined ? null : seconds(values.interval, '--interval'),
    codeLifetime: values['code-lifetime'] === undefined ? 600 : seconds(values['code-lifetime'], '--code-lifetime'),
    accessTokenLifetime: values['access-token-lifetime'] === undefined ? 3600 : seconds(values['access-token-lifetime'], '--access-token-lifetime'),
  };
}

function demoCommand(values: Values, env: Record<string, string | undefined>): Command {
  const misplaced = LOGIN_ONLY.find((name) => values[name] !== undefined);
  if (misplaced) throw new UsageError(`--${misplaced} belongs to the login command: run device-flow login --${misplaced} …`);
  rejectServeOptions(values);
  rejectProfileOptions(values, 'demo');
  return { kind: 'demo', interactive: values.interactive ?? false, ...outputOptions(values, env) };
}

function rejectServeOptions(values: Values): void {
  const misplaced = SERVE_ONLY.find((name) => values[name] !== undefined);
  if (misplaced) throw new UsageError(`--${misplaced} belongs to the serve command: run device-flow serve --${misplaced} …`);
}

function loginCommand(values: Values, env: Record<string, string | undefined>): Command {
  if (values.interactive) throw new UsageError('--interactive belongs to the demo: a login always waits for a real person');
  rejectServeOptions(values);
  rejectProfileOptions(values, 'login');
  const profile = profileName(values);
  const store = storeChoice(values, env);
  const clientIdentifier = values['client-id'];
  if (!clientIdentifier) throw new UsageError('login needs the client: add --client-id ID');
  const server = serverChoice(values);
  const allowInsecureHttp = values['allow-insecure-http'] ?? false;
  if (!allowInsecureHttp) for (const [option, url] of plainUrls(server)) throw new UsageError(insecureMessage(option, url));
  const clientSecret = values['client-secret'] ?? env.DEVICE_FLOW_CLIENT_SECRET ?? '';
  if (server.kind === 'provider' && PRESETS[server.provider].requiresClientSecret && clientSecret === '') {
    throw new UsageError(`${PRESETS[server.provider].title} needs the client secret: add --client-secret or set DEVICE_FLOW_CLIENT_SECRET`);
  }
  const auth = values['client-auth'];
  if (auth !== undefined && !Object.hasOwn(CLIENT_AUTH, auth)) throw new UsageError(`--client-auth must be post, basic or none, not ${JSON.stringify(auth)}`);
  return {
    kind: 'login',
    server,
    clientIdentifier,
    clientSecret,
    clientAuthentication: auth === undefined ? null : CLIENT_AUTH[auth]!,
    allowInsecureHttp,
    profile,
    store,
    loginArgs: loginArgsOf(server, values),
    ...outputOptions(values, env),
  };
}

function serverChoice(values: Values): ServerChoice {
  const { issuer, provider } = values;
  const authorizationUrl = values['authorization-url'];
  const tokenUrl = values['token-url'];
  const given = [issuer !== undefined, provider !== undefined, authorizationUrl !== undefined || tokenUrl !== undefined].filter(Boolean).length;
  if (given === 0) throw new UsageError('login needs an authorization server: add --issuer URL, --provider NAME, or --authorization-url URL --token-url URL');
  if (given > 1) throw new UsageError('give only one of --issuer, --provider, or --authorization-url with --token-url');
  if (provider !== undefined) {
    if (!isProviderName(provider)) throw new UsageError(`unknown provider ${JSON.stringify(provider)}: use one of ${Object.keys(PRESETS).join(', ')}`);
    if (values.tenant !== undefined && provider !== 'microsoft') throw new UsageError('--tenant goes with --provider microsoft');
    return { kind: 'provider', provider, tenant: values.tenant };
  }
  if (values.tenant !== undefined) throw new UsageError('--tenant goes with --provider microsoft');
  if (issuer !== undefined) return { kind: 'issuer', issuer: httpUrl(issuer, '--issuer') };
  if (authorizationUrl === undefined) throw new UsageError('--token-url needs --authorization-url URL as well');
  if (tokenUrl === undefined) throw new UsageError('--authorization-url needs --token-url URL as well');
  return { kind: 'endpoints', authorizationUrl: httpUrl(authorizationUrl, '--authorization-url'), tokenUrl: httpUrl(tokenUrl, '--token-url') };
}

/** The URLs of `server` that are plain http beyond loopback, with the option that gave each. */
function plainUrls(server: ServerChoice): [string, string][] {
  const given: [string, string][] =
    server.kind === 'issuer' ? [['--issuer', server.issuer]] : server.kind === 'endpoints' ? [['--authorization-url', server.authorizationUrl], ['--token-url', server.tokenUrl]] : [];
  return given.filter(([, url]) => !isSecureEndpoint(url, false));
}

/** The one-line refusal of a plain-http URL. */
export function insecureMessage(what: string, url: string): string {
  return `${what} ${plainHttpProblem(url)}; use https, or add --allow-insecure-http`;
}

function outputOptions(values: Values, env: Record<string, string | undefined>): OutputOptions {
  return {
    json: values.json ?? false,
    output: values.output ?? null,
    qr: !(values['no-qr'] ?? false),
    timeout: values.timeout === undefined ? null : seconds(values.timeout),
    inspect: values.inspect ?? false,
    open: !values.open ? null : env.SSH_CONNECTION || env.SSH_CLIENT || env.SSH_TTY ? 'ssh' : 'browser',
    scope: values.scope === undefined ? null : scopeTokens(values.scope),
    dpop: values.dpop ?? false,
  };
}

function httpUrl(value: string, option: string): string {
  const url = parseHttpUrl(value);
  if (url instanceof URL) return url.href;
  if (url === 'must be an absolute URL') {
    // Not echoed when it may hold a password (user:password@host).
    throw new UsageError(`${option} must be an absolute URL such as https://login.example.com${value.includes('@') ? '' : `, not ${JSON.stringify(value)}`}`);
  }
  if (url === 'must not carry a user name or password') throw new UsageError(`${option} ${url}: give the secret with --client-secret or DEVICE_FLOW_CLIENT_SECRET`);
  throw new UsageError(`${option} must be an https: URL, not ${new URL(value).protocol}`);
}

// No device code lives longer than a day (RFC 8628 leaves it to the server; the flow caps it there).
const MAX_SECONDS = 86_400;

/** `value` as a number of seconds for `option`, above 0 and at most a day. */
function seconds(value: string, option = '--timeout'): number {
  const number = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !(number > 0)) throw new UsageError(`${option} takes a number of seconds greater than 0, not ${JSON.stringify(value)}`);
  if (number > MAX_SECONDS) throw new UsageError(`${option} takes at most ${MAX_SECONDS} seconds (a day${option === '--timeout' ? ': no code lives longer' : ''}), not ${value}`);
  return number;
}

function scopeTokens(values: readonly string[]): string[] {
  const tokens = values.flatMap((value) => value.split(/[\s,]+/)).filter((token) => token !== '');
  const bad = findInvalidScopeToken(tokens);
  if (bad !== -1) throw new UsageError(`--scope ${JSON.stringify(tokens[bad])} is not a scope token (printable ASCII without spaces, " or \\)`);
  return tokens;
}

/** What each option's value is, as the help names it. */
const VALUE_NAMES: Partial<Record<keyof typeof OPTIONS, string>> = {
  issuer: 'URL',
  'authorization-url': 'URL',
  'token-url': 'URL',
  provider: 'NAME',
  tenant: 'TENANT',
  'client-id': 'ID',
  'client-secret': 'SECRET',
  'client-auth': 'post|basic|none',
  scope: 'SCOPE',
  output: 'FILE',
  timeout: 'SECONDS',
  port: 'PORT',
  interval: 'SECONDS',
  'code-lifetime': 'SECONDS',
  'access-token-lifetime': 'SECONDS',
  profile: 'NAME',
  store: 'keychain|file|none',
  'min-validity': 'SECONDS',
};

/**
 * `argv` with a value that looks like a negative number joined to its option (`--timeout -5` → `--timeout=-5`):
 * `parseArgs` would take `-5` for an option, and our own check of the value says better what is wrong.
 */
function withNegativeValues(argv: readonly string[]): string[] {
  const args: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const name = /^--([\w-]+)$/.exec(argv[index]!)?.[1] as keyof typeof OPTIONS | undefined;
    const next = argv[index + 1];
    if (name !== undefined && OPTIONS[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) args.push(`--${name}=${argv[++index]}`);
    else args.push(argv[index]!);
  }
  return args;
}

/** `parseArgs`' error in our words, one line naming the fix. */
function explainParseError(error: Error & { code?: string }): string {
  const option = /^Option '(?:-\w, )?(--[\w-]+)/.exec(error.message)?.[1];
  const valueName = option === undefined ? undefined : VALUE_NAMES[option.slice(2) as keyof typeof OPTIONS];
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option '${/'([^']+)'/.exec(error.message)?.[1] ?? ''}'; see device-flow --help`;
  if (option !== undefined && error.message.includes('does not take an argument')) return `${option} takes no value`;
  if (option !== undefined && valueName !== undefined) return `${option} needs a value: ${option} ${valueName}`;
  return `${error.message.split(/\.(\s|$)/, 1)[0]}; see device-flow --help`;
}
