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
  const Current = VIEWS[view].component;
  return (
    <div className="app">
      <nav className="sidebar">
        <div className="brand">Hearth</div>
        {(Object.keys(VIEWS) as ViewName[]).map((name) => (
          <button key={name} type="button" className={name === view ? 'nav active' : 'nav'} onClick={() => go(name)} data-testid={`nav-${name}`}>
            {VIEWS[name].title}
          </button>
        ))}
        <div className="sidebar-footer">
          <span className={`dot dot-${serve.state}`} /> <span data-testid="serve-state">{serve.state === 'ready' ? `Serving ${serve.servedName}` : `Server ${serve.state}`}</span>
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
