// What the app lets leave the window: only http(s) links, opened in the user's browser. Anything
// else (file:, javascript:, custom schemes) could run code outside the sandbox.
export function isSafeExternalUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}
