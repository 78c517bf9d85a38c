// The window: a sidebar of views and the current view. Connects to the engine host first; until
// it answers, shows why not and what to do.
import { useEffect, useState } from 'react';
import type { AdminStatus } from '../../engine/common/adminApi.js';
import { AdminClient } from './api/client.js';
import { desktopApi, resolveHostInfo } from './api/hostInfo.js';
import { ErrorBox, Loading } from './components/States.js';
import { HostProvider, useHost } from './hostContext.js';
import { BenchmarkView } from './views/BenchmarkView.js';
import { DashboardView } from './views/DashboardView.js';
import { ExportView } from './views/ExportView.js';
import { ModelsView } from './views/ModelsView.js';
import { PlaygroundView } from './views/PlaygroundView.js';
import { RequestsView } from './views/RequestsView.js';
import { ServeView } from './views/ServeView.js';

const VIEWS = {
  models: { title: 'Models', component: ModelsView },
  serve: { title: 'Serve', component: ServeView },
  dashboard: { title: 'Dashboard', component: DashboardView },
  requests: { title: 'Requests', component: RequestsView },
  playground: { title: 'Playground', component: PlaygroundView },
  benchmark: { title: 'Benchmark', component: BenchmarkView },
  export: { title: 'Export', component: ExportView },
} as const;
export type ViewName = keyof typeof VIEWS;

function viewFromHash(): ViewName {
  const name = location.hash.replace(/^#\/?/, '');
  return name in VIEWS ? (name as ViewName) : 'models';
}

export function App() {
  const [connection, setConnection] = useState<{ client: AdminClient; status: AdminStatus } | { error: unknown } | null>(null);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let cancelled = false;
    (async () => {
      const info = await resolveHostInfo();
      const client = new AdminClient(info);
      return { client, status: await client.status() };
    })().then(
      (value) => !cancelled && setConnection(value),
      (error: unknown) => !cancelled && setConnection({ error }),
    );
    return () => {
      cancelled = true;
    };
  }, [attempt]);
  // In Electron a restarted engine host may listen on a new port: reconnect when it comes back elsewhere.
  const currentUrl = connection !== null && 'client' in connection ? connection.client.host.url : null;
  useEffect(
    () =>
      desktopApi()?.onHostStatus((status) => {
        if (status.state === 'ready' && currentUrl !== null && status.url.replace(/\/$/, '') !== currentUrl) setAttempt((value) => value + 1);
      }),
    [currentUrl],
  );

  if (connection === null) return <div className="boot"><Loading what="the engine host" /></div>;
  if ('error' in connection) {
    return (
      <div className="boot">
        <h1>Hearth</h1>
        <ErrorBox error={connection.error} onRetry={() => setAttempt((value) => value + 1)} />
      </div>
    );
  }
  return (
    <HostProvider client={connection.client} status={connection.status}>
      <Shell />
    </HostProvider>
  );
}

function Shell() {
  const [view, setView] = useState<ViewName>(viewFromHash);
  const { serve, connected, shellStatus } = useHost();
  useEffect(() => {
    const onHash = () => setView(viewFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const go = (name: ViewName) => {
    history.replaceState(null, '', `#/${name}`);
    setView(name);
  };
  const [theme, setTheme] = useTheme();
  // Alt+1…Alt+7 open the views in the sidebar's order.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (!event.altKey || event.ctrlKey || event.metaKey) return;
      const name = (Object.keys(VIEWS) as ViewName[])[Number(event.key) - 1];
      if (!name) return;
      event.preventDefault();
      history.replaceState(null, '', `#/${name}`);
      setView(name);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  const Current = VIEWS[view].component;
  return (
    <div className="app">
      <nav className="sidebar">
        <div className="brand">Hearth</div>
        {(Object.keys(VIEWS) as ViewName[]).map((name, index) => (
          <button
            key={name}
            type="button"
            className={name === view ? 'nav active' : 'nav'}
            onClick={() => go(name)}
            aria-current={name === view ? 'page' : undefined}
            title={`${VIEWS[name].title} (Alt+${index + 1})`}
            data-testid={`nav-${name}`}
          >
            {VIEWS[name].title}
          </button>
        ))}
        <button type="button" className="theme-toggle" onClick={() => setTheme(NEXT_THEME[theme])} data-testid="theme-toggle" title="Light, dark, or as the system">
          Theme: {theme}
        </button>
        <div className="sidebar-footer">
          <span className={`dot dot-${serve.state}`} /> <span data-testid="serve-state">{serve.state === 'ready' ? `Serving ${serve.servedName ?? 'the library'}` : `Server ${serve.state}`}</span>
        </div>
      </nav>
      <main className="content">
        {shellStatus && shellStatus.state !== 'ready' && (
          <div className="banner banner-warn" role="status">
            {shellStatus.state === 'restarting' ? shellStatus.message : `Engine ${shellStatus.state}…`}
          </div>
        )}
        {!connected && <div className="banner banner-warn">Live updates disconnected — reconnecting to the engine host…</div>}
        <Current go={go} />
      </main>
    </div>
  );
}

type ThemeChoice = 'system' | 'light' | 'dark';
const THEME_KEY = 'hearth.theme';
const NEXT_THEME: Record<ThemeChoice, ThemeChoice> = { system: 'light', light: 'dark', dark: 'system' };

/** The colour theme: the OS's (prefers-color-scheme) unless chosen; kept across restarts. */
function useTheme(): [ThemeChoice, (theme: ThemeChoice) => void] {
  const [theme, setTheme] = useState<ThemeChoice>(() => {
    const saved = localStorage.getItem(THEME_KEY);
    return saved === 'light' || saved === 'dark' ? saved : 'system';
  });
  useEffect(() => {
    if (theme === 'system') {
      delete document.documentElement.dataset.theme;
      localStorage.removeItem(THEME_KEY);
    } else {
      document.documentElement.dataset.theme = theme;
      localStorage.setItem(THEME_KEY, theme);
    }
  }, [theme]);
  return [theme, setTheme];
}
