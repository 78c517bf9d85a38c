// Where the engine host is and its admin token. In Electron the preload provides both; in a
// browser the page is served by the host itself, so the origin is the host and the token is in
// the URL fragment (`#token=…`, never sent to a server). `?host=` overrides the origin for a
// renderer served by Vite's dev server.
import { DESKTOP_API_GLOBAL, tokenFromFragment, type HearthDesktopApi, type HostInfo } from '../../../engine/common/desktopApi.js';

export function desktopApi(): HearthDesktopApi | undefined {
  return (globalThis as unknown as Record<string, HearthDesktopApi | undefined>)[DESKTOP_API_GLOBAL];
}

const TOKEN_STORAGE_KEY = 'hearth.adminToken';

export async function resolveHostInfo(): Promise<HostInfo> {
  const desktop = desktopApi();
  if (desktop) return desktop.getHostInfo();
  const query = new URLSearchParams(location.search);
  const url = (query.get('host') ?? location.origin).replace(/\/$/, '');
  let token = tokenFromFragment(location.hash);
  if (token) {
    // Keep the token for reloads, and take it out of the address bar (screenshots, shoulder surfing).
    sessionStorage.setItem(TOKEN_STORAGE_KEY, token);
    history.replaceState(null, '', location.pathname + location.search);
  } else token = sessionStorage.getItem(TOKEN_STORAGE_KEY);
  if (!token) {
    throw new Error('This page has no admin token. Open the UI from the link the engine host printed (it ends in #token=…), or run `hearth app`.');
  }
  return { url, token };
}
