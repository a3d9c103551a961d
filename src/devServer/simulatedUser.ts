/**
 * A person at a browser, simulated: opens the verification URL, confirms the code, signs in and consents (or aborts)
 * on the authorization server's own pages, with plain HTTP requests, cookies and form posts. Written for
 * oidc-provider's pages (the development server), whose forms it fills in by their field names.
 *
 * @module
 */

/** What the simulated user does. */
export interface SimulatedUserOptions {
  /** `approve` signs in and consents; `deny` aborts at the code confirmation. */
  decision: 'approve' | 'deny';
  /** The name to sign in with (any works on the development server). */
  login?: string;
}

interface Form {
  action: string;
  fields: URLSearchParams;
  /** It has a visible box for the user code. */
  asksForCode: boolean;
  buttons: { name: string; value: string }[];
}

const MAX_PAGES = 12;

/**
 * Goes through the authorization server's pages from `verificationUrl` (the complete URL carries the code; otherwise
 * `userCode` is typed in) until a page without a form: the end of the flow.
 *
 * @returns the text of that last page.
 * @throws when the server does not take the code, or the pages do not lead anywhere.
 */
export async function actAsUser(verificationUrl: string, userCode: string, options: SimulatedUserOptions): Promise<string> {
  const browser = new CookieBrowser();
  let page = await browser.get(verificationUrl);
  let codeTyped = false;
  for (let step = 0; step < MAX_PAGES; step++) {
    const form = firstForm(page.html, page.url);
    if (form === null) return text(page.html);
    // The box to type the code in, again, after the code was typed: the server did not take it.
    if (codeTyped && form.asksForCode) throw new Error(`The server did not take user code ${userCode}: ${text(page.html).slice(0, 200)}`);
    codeTyped ||= form.asksForCode;
    const aborting = fill(form, userCode, options);
    page = await browser.post(form.action, form.fields);
    // After an abort the server shows where to start over; the user walks away.
    if (aborting) return text(page.html);
  }
  throw new Error(`The authorization server's pages did not end after ${MAX_PAGES} steps (last: ${page.url})`);
}

/** Fills in `form` as the user would; `true` when the user aborts with it. */
function fill(form: Form, userCode: string, { decision, login = 'demo-user' }: SimulatedUserOptions): boolean {
  const { fields, buttons } = form;
  if (form.asksForCode) fields.set('user_code', userCode);
  if (fields.has('login')) fields.set('login', login);
  if (fields.has('password')) fields.set('password', 'any password works here');
  const abort = buttons.find((button) => button.name === 'abort');
  if (decision !== 'deny' || abort === undefined) return false;
  fields.delete('confirm');
  fields.set('abort', abort.value || 'yes');
  return true;
}

function firstForm(html: string, base: string): Form | null {
  const match = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!match) return null;
  const formAttributes = attributes(match[1]!);
  const fields = new URLSearchParams();
  let asksForCode = false;
  for (const [, tag] of match[2]!.matchAll(/<input\b([^>]*)>/gi)) {
    const { name, value = '', type = 'text' } = attributes(tag!);
    if (name && type !== 'submit' && type !== 'button') fields.set(name, decode(value));
    asksForCode ||= name === 'user_code' && type === 'text';
  }
  // Buttons may sit outside the form and join it with form="id", as on oidc-provider's confirmation page.
  const buttons = [...html.matchAll(/<button\b([^>]*)>/gi)]
    .map(([, tag]) => attributes(tag!))
    .filter((button) => button.name !== undefined)
    .map((button) => ({ name: button.name!, value: decode(button.value ?? '') }));
  return { action: new URL(decode(formAttributes.action ?? ''), base).href, fields, asksForCode, buttons };
}

function attributes(tag: string): Record<string, string | undefined> {
  return Object.fromEntries([...tag.matchAll(/([\w-]+)\s*=\s*"([^"]*)"/g)].map(([, name, value]) => [name!.toLowerCase(), value]));
}

function decode(value: string): string {
  return value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function text(html: string): string {
  return html
    .replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** `fetch` with a cookie jar that follows redirects itself, so that cookies set on the way are kept. */
class CookieBrowser {
  readonly #cookies = new Map<string, string>();

  get(url: string): Promise<{ url: string; html: string }> {
    return this.#request(url, { method: 'GET' });
  }

  post(url: string, body: URLSearchParams): Promise<{ url: string; html: string }> {
    return this.#request(url, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }

  async #request(url: string, init: RequestInit): Promise<{ url: string; html: string }> {
    let current = url;
    let request = init;
    for (let hop = 0; hop < 10; hop++) {
      const headers = new Headers(request.headers);
      if (this.#cookies.size > 0) headers.set('cookie', [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; '));
      const response = await fetch(current, { ...request, headers, redirect: 'manual' });
      for (const cookie of response.headers.getSetCookie()) {
        const [pair = ''] = cookie.split(';');
        const equals = pair.indexOf('=');
        if (equals > 0) this.#cookies.set(pair.slice(0, equals).trim(), pair.slice(equals + 1).trim());
      }
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.body?.cancel();
        current = new URL(location, current).href;
        request = { method: 'GET' };
        continue;
      }
      return { url: current, html: await response.text() };
    }
    throw new Error(`Too many redirects from ${url}`);
  }
}
