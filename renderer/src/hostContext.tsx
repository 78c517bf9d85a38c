// Live state shared by every view: the admin client, serving status, the latest dashboard
// sample, download and benchmark progress, and whether the event stream is connected.
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import type { AdminStatus, BenchProgress, DashboardSnapshot, PullProgress, ServeStatus } from '../../engine/common/adminApi.js';
import type { HostStatus } from '../../engine/common/desktopApi.js';
import { AdminClient } from './api/client.js';
import { desktopApi } from './api/hostInfo.js';

export interface HostState {
  client: AdminClient;
  status: AdminStatus;
  serve: ServeStatus;
  setServe: (status: ServeStatus) => void;
  dashboard: DashboardSnapshot | null;
  pulls: Record<string, PullProgress>;
  bench: Record<string, BenchProgress>;
  /** Bumps when the request log gains rows. */
  requestsVersion: number;
  connected: boolean;
  /** Supervisor status from the Electron shell; null in a browser. */
  shellStatus: HostStatus | null;
}

const Context = createContext<HostState | null>(null);

export function useHost(): HostState {
  const value = useContext(Context);
  if (!value) throw new Error('useHost outside HostProvider: a bug in the renderer tree.');
  return value;
}

export function HostProvider({ client, status, children }: { client: AdminClient; status: AdminStatus; children: ReactNode }) {
  const [serve, setServe] = useState<ServeStatus>(status.serve);
  const [dashboard, setDashboard] = useState<DashboardSnapshot | null>(null);
  const [pulls, setPulls] = useState<Record<string, PullProgress>>({});
  const [bench, setBench] = useState<Record<string, BenchProgress>>({});
  const [requestsVersion, setRequestsVersion] = useState(0);
  const [connected, setConnected] = useState(true);
  const [shellStatus, setShellStatus] = useState<HostStatus | null>(null);

  useEffect(
    () =>
      client.subscribe({
        serve: setServe,
        dashboard: setDashboard,
        pull: (progress) => setPulls((all) => ({ ...all, [progress.jobId]: progress })),
        bench: (progress) => setBench((all) => ({ ...all, [progress.runId]: progress })),
        requests: () => setRequestsVersion((value) => value + 1),
        onConnection: setConnected,
      }),
    [client],
  );
  useEffect(() => {
    client.pulls().then(
      (response) => setPulls(Object.fromEntries(response.pulls.map((pull) => [pull.jobId, pull]))),
      () => undefined,
    );
  }, [client]);
  useEffect(() => desktopApi()?.onHostStatus(setShellStatus), []);

  return (
    <Context.Provider value={{ client, status, serve, setServe, dashboard, pulls, bench, requestsVersion, connected, shellStatus }}>
      {children}
    </Context.Provider>
  );
}
