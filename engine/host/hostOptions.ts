// How the engine host is started: argv flags override the env vars the supervisor sets
// (engine/common/hostProcess.ts HOST_ENV). Pure, so the precedence is unit-tested.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { HOST_ENV } from '../common/hostProcess.js';
import { parseList } from '../server/browserGuard.js';
import { generateToken } from './auth.js';

export interface ParsedHostOptions {
  port: number;
  token: string;
  /** True when the token was generated here (print it, nobody else knows it). */
  tokenGenerated: boolean;
  rendererDir: string | null;
  sqliteBinding?: string;
  /** Extra origins allowed to call the admin API (HEARTH_ADMIN_ORIGINS, comma-separated), e.g. Vite's dev server. */
  extraOrigins: string[];
  /** Host names the admin API answers to besides loopback ones (--allowed-hosts, HEARTH_ADMIN_ALLOWED_HOSTS). */
  allowedHosts: string[];
  help: boolean;
}

export const HOST_USAGE = `Usage: node dist/engineHost.mjs [options]   (from source: node --import tsx engine/host/main.ts)

The Hearth engine host: serves models and the admin API the desktop and web UI use.

Options:
  --port N            Admin API port on 127.0.0.1 (env ${HOST_ENV.adminPort} or HEARTH_HOST_PORT; default 0 = any free port)
  --token T           Admin token (env ${HOST_ENV.adminToken}; default: a random one, printed in the UI link)
  --renderer-dir DIR  Built renderer to serve at / (env ${HOST_ENV.rendererDir}; default out/renderer when it exists)
  --no-ui             Serve the admin API only
  --allowed-hosts A,B Host names to answer to besides localhost, 127.0.0.1 and [::1] (env HEARTH_ADMIN_ALLOWED_HOSTS;
                      '*' for any); other Host headers get 403, so a web page cannot reach the host by DNS rebinding
  -h, --help          Show this help`;

export class HostOptionsError extends Error {
  override readonly name = 'HostOptionsError';
}

export function parseHostOptions(argv: string[], env: NodeJS.ProcessEnv, repoRoot: string): ParsedHostOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        token: { type: 'string' },
        'renderer-dir': { type: 'string' },
        'no-ui': { type: 'boolean' },
        'allowed-hosts': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new HostOptionsError(`${(error as Error).message}\n\n${HOST_USAGE}`);
  }
  const portText = values.port ?? env[HOST_ENV.adminPort] ?? env.HEARTH_HOST_PORT ?? '0';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new HostOptionsError(`The admin port must be a whole number from 0 to 65535; got '${portText}'.`);
  const givenToken = values.token ?? env[HOST_ENV.adminToken];
  if (givenToken !== undefined && givenToken.length < 16) {
    throw new HostOptionsError('The admin token must be at least 16 characters (it guards model deletion and serving); omit it to get a random one.');
  }
  let rendererDir: string | null = null;
  if (!values['no-ui']) {
    const explicit = values['renderer-dir'] ?? env[HOST_ENV.rendererDir];
    if (explicit) {
      rendererDir = resolve(explicit);
      if (!existsSync(join(rendererDir, 'index.html'))) {
        throw new HostOptionsError(`No built renderer at ${rendererDir} (index.html missing). Build it with \`npx vite build --config renderer/vite.config.ts\`.`);
      }
    } else {
      const fallback = join(repoRoot, 'out', 'renderer');
      rendererDir = existsSync(join(fallback, 'index.html')) ? fallback : null;
    }
  }
  return {
    port,
    token: givenToken ?? generateToken(),
    tokenGenerated: givenToken === undefined,
    rendererDir,
    sqliteBinding: env[HOST_ENV.sqliteBinding] || undefined,
    extraOrigins: parseList(env.HEARTH_ADMIN_ORIGINS),
    allowedHosts: parseList(values['allowed-hosts'] ?? env.HEARTH_ADMIN_ALLOWED_HOSTS),
    help: values.help ?? false,
  };
}
