/**
 * Where the TV app signs in, from its page's query string: `?authorizationUrl=…&tokenUrl=…&clientId=…` (the serve
 * script and the browser test fill them in), and `&inspect` to open the Stately inspector.
 */
export interface TvConfig {
  authorizationUrl: string;
  tokenUrl: string;
  clientIdentifier: string;
  inspect: boolean;
}

/** The query parameters the page cannot start without. */
export const PARAMETERS = ['authorizationUrl', 'tokenUrl', 'clientId'] as const;
export type Parameter = (typeof PARAMETERS)[number];

/** A parameter the page cannot sign in with: absent or empty, or present with a value the flow would refuse. */
export interface ConfigProblem {
  parameter: Parameter;
  /** `undefined` when the parameter is missing. */
  value?: string;
  /** What is wrong: `"missing"`, or words that follow the value (`"is not an absolute URL"`). */
  problem: string;
}

export type ConfigResult = { ok: true; config: TvConfig } | { ok: false; problems: ConfigProblem[] };

/** Reads the page's query string: every problem at once, so that one look at the screen says everything to fix. */
export function readConfig(search: string): ConfigResult {
  const query = new URLSearchParams(search);
  const problems: ConfigProblem[] = [];
  const read = (parameter: Parameter, check: (value: string) => string | null): string => {
    const value = query.get(parameter)?.trim() ?? '';
    if (value === '') {
      problems.push({ parameter, problem: 'missing' });
      return '';
    }
    const problem = check(value);
    if (problem !== null) problems.push({ parameter, value, problem });
    return value;
  };
  const authorizationUrl = read('authorizationUrl', endpointProblem);
  const tokenUrl = read('tokenUrl', endpointProblem);
  const clientIdentifier = read('clientId', () => null);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, config: { authorizationUrl, tokenUrl, clientIdentifier, inspect: query.has('inspect') } };
}

/**
 * Why the flow would refuse `value` as an endpoint, or `null`: the same rules as the package's, checked here so that a
 * bad address gets this screen instead of a failed sign-in. The page does not set `allowInsecureHttp`, so plain HTTP
 * is for this machine only.
 */
function endpointProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'is not an http: or https: URL';
  if (url.username !== '' || url.password !== '') return 'must not carry a user name or password';
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) return 'is plain http to another machine';
  return null;
}

// The package's own test of "this machine": literal loopback addresses and `localhost`, nothing a resolver could redirect.
function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}
