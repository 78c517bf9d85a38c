// Where the Hub is and who we are to it: HF_ENDPOINT (mirrors), HF_TOKEN, the HF cache folder.
// Every Hub request goes through `hubFetch`, which adds the token itself (so @huggingface/hub never
// sees it, and it never ends up in a URL, an error message or a log) and turns 401/403 into a
// message that says how to get access.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hfHubCacheDir, hfHomeDir } from './hfCache.js';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

export interface HubOptions {
  /** Hub base URL; default HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Access token (the app's settings); default HF_TOKEN, HUGGING_FACE_HUB_TOKEN, or $HF_HOME/token. */
  token?: string;
  /** HF hub cache folder; default HF_HUB_CACHE, else $HF_HOME/hub. */
  cacheDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Called for every HTTP request Hearth sends to the Hub (tests count them). */
  onRequest?: (info: { method: string; url: string }) => void;
}

export interface HubSettings {
  endpoint: string;
  cacheDir: string;
  hasToken: boolean;
  /** fetch with the token added; pass it to @huggingface/hub as `fetch`, never the token itself. */
  fetch: typeof fetch;
}

export function hubSettings(options: HubOptions = {}): HubSettings {
  const env = options.env ?? process.env;
  const endpoint = (options.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
  const token = options.token ?? env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN ?? readTokenFile(env);
  const cacheDir = options.cacheDir ?? hfHubCacheDir(env);
  const hubFetch: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    // Only our own endpoint gets the token: a redirect target (the LFS CDN) must not.
    if (token && url.startsWith(endpoint + '/')) headers.set('Authorization', `Bearer ${token}`);
    options.onRequest?.({ method: init?.method ?? 'GET', url });
    return fetch(input, { ...init, headers });
  };
  return { endpoint, cacheDir, hasToken: Boolean(token), fetch: hubFetch };
}

/** The token `huggingface-cli login` stores, so a logged-in machine needs no extra setup. */
function readTokenFile(env: NodeJS.ProcessEnv): string | undefined {
  const file = env.HF_TOKEN_PATH ?? join(hfHomeDir(env), 'token');
  if (!existsSync(file)) return undefined;
  const token = readFileSync(file, 'utf8').trim();
  return token || undefined;
}

/** A Hub request failed in a way the user can act on; the message says how. */
export class HubError extends Error {
  constructor(
    message: string,
    readonly kind: 'gated' | 'not-found' | 'unreachable' | 'http' | 'integrity' | 'disk-space' | 'unsupported',
    readonly statusCode?: number,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

/** Message for a 401/403 on `repo`: gated/private, and what to do about it. */
export function accessDeniedMessage(repo: string, status: number, endpoint: string, hasToken: boolean): string {
  const page = `${endpoint}/${repo}`;
  if (!hasToken) {
    return (
      `${repo} is gated or private (HTTP ${status}): the Hub needs an access token to download it. ` +
      `Open ${page}, log in and accept the model's terms, create a read token at ${endpoint}/settings/tokens, ` +
      `then set HF_TOKEN=<token> (or add the token in Hearth's settings) and try again.`
    );
  }
  return (
    `${repo} is gated or private and your token does not grant access (HTTP ${status}). ` +
    `Open ${page} with the account that owns the token and accept the model's terms (access may need the authors' approval), ` +
    `or check that HF_TOKEN holds a valid read token, then try again.`
  );
}

/** Raises a HubError for a failed response; 401/403 become the gated message. */
export async function throwForResponse(response: Response, repo: string, settings: HubSettings, what: string): Promise<never> {
  const status = response.status;
  await response.body?.cancel().catch(() => undefined);
  if (status === 401 || status === 403) throw new HubError(accessDeniedMessage(repo, status, settings.endpoint, settings.hasToken), 'gated', status);
  if (status === 404) throw new HubError(`${what}: not found on ${settings.endpoint} (HTTP 404). Check the repo id and revision.`, 'not-found', status);
  throw new HubError(`${what}: the Hub answered HTTP ${status}.`, 'http', status);
}

/** Maps an error from @huggingface/hub (HubApiError has statusCode) to a HubError. */
export function hubErrorFrom(error: unknown, repo: string, settings: HubSettings, what: string): Error {
  if (error instanceof HubError) return error;
  const status = (error as { statusCode?: number }).statusCode;
  if (status === 401 || status === 403) return new HubError(accessDeniedMessage(repo, status, settings.endpoint, settings.hasToken), 'gated', status);
  if (status === 404) return new HubError(`${what}: ${repo} was not found on ${settings.endpoint} (HTTP 404). Check the repo id and revision; private repos also need HF_TOKEN.`, 'not-found', status);
  if (status !== undefined) return new HubError(`${what}: the Hub answered HTTP ${status}.`, 'http', status);
  const cause = error instanceof Error ? error.message : String(error);
  return new HubError(`${what}: could not reach ${settings.endpoint} (${cause}). Check the network, or HF_ENDPOINT if you use a mirror.`, 'unreachable');
}
