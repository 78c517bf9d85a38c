// Serve: pick a model and variant, tune the settings, start/stop/reload, and copy a snippet
// that calls the endpoint.
import { useEffect, useState } from 'react';
import type { LibraryModel, ServeLibrarySettings, ServeSettings, ServeStatus } from '../../../engine/common/adminApi.js';
import { MODEL_DTYPES, type ModelDtype } from '../../../engine/common/manifest.js';
import { DEFAULT_SERVE_PORT, DEVICE_CHOICES, type DeviceChoice } from '../../../engine/common/servingConfig.js';
import type { Int8MatMulMode } from '../../../engine/common/accelerator.js';
import { DEFAULT_MAX_BATCH_SIZE } from '../../../engine/common/batching.js';
import { Card, Empty, ErrorBox, Stat } from '../components/States.js';
import { formatBytes } from '../components/format.js';
import { useAsync } from '../components/useAsync.js';
import { useHost, type HostState } from '../hostContext.js';
import { curlSnippet, langchainSnippet, openaiSnippet } from './snippets.js';
import { PRESELECT_KEY, type ViewProps } from './viewProps.js';

const SETTINGS_KEY = 'hearth.serve.settings';
const MIB = 1024 * 1024;
/** The defaults of `hearth serve --library`. */
const DEFAULT_LIBRARY: ServeLibrarySettings = { maxLoadedModels: 3, memoryBudgetBytes: 0, idleUnloadSeconds: 300 };

export const DEFAULT_SETTINGS: ServeSettings = {
  model: '',
  device: 'auto',
  port: DEFAULT_SERVE_PORT,
  corsOrigins: [],
  maxBatchSize: DEFAULT_MAX_BATCH_SIZE,
  contextLength: 0,
  kvCacheBytes: 0,
  contentLogging: true,
};

/** The Serve view's last settings (kept in localStorage), for views that start serving too. */
export function savedServeSettings(): ServeSettings {
  try {
    const saved = localStorage.getItem(SETTINGS_KEY);
    return saved ? { ...DEFAULT_SETTINGS, ...(JSON.parse(saved) as Partial<ServeSettings>) } : DEFAULT_SETTINGS;
  } catch {
    return DEFAULT_SETTINGS;
  }
}

/**
 * Serves library model `name` to chat with (the Serve view's last settings), unless it is the one
 * served: the Models view's Chat action and the playground's, for a conversation's model.
 */
export async function serveForChat({ client, serve }: Pick<HostState, 'client' | 'serve'>, name: string): Promise<ServeStatus> {
  // A library server serves every model by name already.
  if (serve.state === 'ready' && (serve.settings?.model === name || serve.settings?.library)) return serve;
  const settings = { ...(serve.settings ?? savedServeSettings()), model: name, dtype: undefined, library: undefined };
  return serve.state === 'ready' || serve.state === 'starting' ? client.reloadServe(settings) : client.startServe(settings);
}

export function ServeView({ go }: ViewProps) {
  const { client, serve, setServe, status } = useHost();
  const library = useAsync(() => client.library(), [client]);
  const [settings, setSettings] = useState<ServeSettings>(() => {
    const base = serve.settings ?? savedServeSettings();
    const preselected = sessionStorage.getItem(PRESELECT_KEY);
    if (preselected) {
      sessionStorage.removeItem(PRESELECT_KEY);
      return { ...base, model: preselected, dtype: undefined };
    }
    return base;
  });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings)), [settings]);

  const set = <K extends keyof ServeSettings>(key: K, value: ServeSettings[K]) => setSettings((current) => ({ ...current, [key]: value }));
  const models: LibraryModel[] = library.data?.models ?? [];
  const chosen = models.find((model) => model.name === settings.model);
  const act = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      const result = await action();
      if (result && typeof result === 'object' && 'state' in result) setServe(result as typeof serve);
    } catch (reason) {
      setError(reason);
    } finally {
      setBusy(false);
    }
  };
  const running = serve.state === 'ready' || serve.state === 'starting';
  const libraryMode = settings.library;
  const setLibrary = <K extends keyof ServeLibrarySettings>(key: K, value: ServeLibrarySettings[K]) =>
    setSettings((current) => ({ ...current, library: { ...(current.library ?? DEFAULT_LIBRARY), [key]: value } }));

  return (
    <div className="view" data-testid="view-serve">
      <h1>Serve</h1>
      <Card title="Model and settings" testId="serve-settings">
        <form className="form-grid" onSubmit={(event) => { event.preventDefault(); void act(() => (running ? client.reloadServe(settings) : client.startServe(settings))); }}>
          <label className="checkbox">
            <input type="checkbox" checked={libraryMode !== undefined} onChange={(event) => set('library', event.target.checked ? DEFAULT_LIBRARY : undefined)} data-testid="serve-library" />
            Serve the whole library (models load by the name a request gives)
          </label>
          {libraryMode === undefined ? (
            <>
              <label>
                Model
                <input list="library-models" value={settings.model} onChange={(event) => set('model', event.target.value)} placeholder="library name or package folder" data-testid="serve-model" />
                <datalist id="library-models">{models.map((model) => <option key={model.name} value={model.name} />)}</datalist>
                {library.error !== undefined && <span className="muted small">Library unavailable: type a package folder.</span>}
                {!library.loading && models.length === 0 && library.error === undefined && <span className="muted small">The library is empty: download a model on the Models tab, or type a package folder.</span>}
              </label>
              <label>
                Variant
                <select value={settings.dtype ?? ''} onChange={(event) => set('dtype', (event.target.value || undefined) as ModelDtype | undefined)}>
                  <option value="">best available</option>
                  {(chosen ? chosen.variants.map((variant) => variant.dtype) : MODEL_DTYPES).map((dtype) => <option key={dtype} value={dtype}>{dtype}</option>)}
                </select>
              </label>
            </>
          ) : (
            <>
              <label>
                Max loaded models
                <input type="number" min={1} max={64} value={libraryMode.maxLoadedModels} onChange={(event) => setLibrary('maxLoadedModels', Number(event.target.value))} data-testid="serve-max-loaded" />
              </label>
              <label>
                Memory budget (MiB, 0 = 75 % of RAM)
                <input type="number" min={0} value={Math.round(libraryMode.memoryBudgetBytes / MIB)} onChange={(event) => setLibrary('memoryBudgetBytes', Number(event.target.value) * MIB)} data-testid="serve-memory-budget" />
              </label>
              <label>
                Unload when idle for (s, -1 = keep)
                <input type="number" min={-1} value={libraryMode.idleUnloadSeconds} onChange={(event) => setLibrary('idleUnloadSeconds', Number(event.target.value))} data-testid="serve-idle-unload" />
              </label>
            </>
          )}
          <label>
            Device
            <select value={settings.device} onChange={(event) => set('device', event.target.value as DeviceChoice)}>
              {DEVICE_CHOICES.map((device) => <option key={device} value={device}>{device}</option>)}
            </select>
          </label>
          <label title="int4 models on the CPU: the layers' matmuls in int8 (an int8 copy of the weights is written beside the model at the first load)">
            CPU int8 matmuls (int4)
            <select value={settings.cpuInt8MatMul ?? 'off'} onChange={(event) => set('cpuInt8MatMul', event.target.value as Int8MatMulMode)} data-testid="serve-int8">
              <option value="off">off</option>
              <option value="prompt">prompts: ~2× prefill, more memory</option>
              <option value="all">every token: ~2× prefill, slower decode</option>
            </select>
          </label>
          <label>
            Max batch size
            <input type="number" min={1} max={1024} value={settings.maxBatchSize} onChange={(event) => set('maxBatchSize', Number(event.target.value))} />
          </label>
          <label>
            Context (tokens, 0 = model's)
            <input type="number" min={0} value={settings.contextLength} onChange={(event) => set('contextLength', Number(event.target.value))} />
          </label>
          <label>
            KV-cache budget (MiB, 0 = auto)
            <input type="number" min={0} value={Math.round(settings.kvCacheBytes / MIB)} onChange={(event) => set('kvCacheBytes', Number(event.target.value) * MIB)} />
          </label>
          <label>
            Port (0 = any free)
            <input type="number" min={0} max={65535} value={settings.port} onChange={(event) => set('port', Number(event.target.value))} data-testid="serve-port" />
          </label>
          <label>
            API key (optional)
            <input type="password" value={settings.apiKey ?? ''} onChange={(event) => set('apiKey', event.target.value || undefined)} autoComplete="off" />
          </label>
          <label>
            CORS origins (comma-separated)
            <input value={settings.corsOrigins.join(', ')} onChange={(event) => set('corsOrigins', event.target.value.split(',').map((origin) => origin.trim()).filter(Boolean))} placeholder="http://localhost:3000" />
          </label>
          <label className="checkbox">
            <input type="checkbox" checked={settings.contentLogging} onChange={(event) => set('contentLogging', event.target.checked)} />
            Log prompts and responses
          </label>
          <div className="form-actions">
            {!running && <button type="submit" className="primary" disabled={busy || (libraryMode === undefined && settings.model === '')} data-testid="serve-start">Start</button>}
            {running && <button type="submit" disabled={busy} data-testid="serve-reload">Reload with these settings</button>}
            {running && <button type="button" className="danger" disabled={busy} onClick={() => act(() => client.stopServe())} data-testid="serve-stop">Stop</button>}
          </div>
        </form>
        {error !== null && <ErrorBox error={error} />}
      </Card>

      <Card title="Status" testId="serve-status">
        {serve.state === 'stopped' && <Empty title="Not serving.">Pick a model above and press Start.</Empty>}
        {serve.state === 'starting' && <div className="state state-loading"><span className="spinner" /> Loading {serve.settings?.model}… large models take a while.</div>}
        {serve.state === 'stopping' && <div className="state state-loading"><span className="spinner" /> Stopping: letting running requests finish…</div>}
        {serve.state === 'failed' && <ErrorBox error={new Error(serve.error ?? 'Serving failed.')} />}
        {serve.state === 'ready' && serve.baseUrl && serve.settings?.library && (
          <>
            <div className="stats">
              <Stat label="Endpoint" value={<code data-testid="endpoint-url">{serve.baseUrl}</code>} />
              <Stat label="Models" value="every ready model of the library, by name" />
              <Stat label="Max loaded" value={serve.settings.library.maxLoadedModels} />
              <Stat label="Idle unload" value={serve.settings.library.idleUnloadSeconds < 0 ? 'never' : `${serve.settings.library.idleUnloadSeconds} s`} />
            </div>
            <Snippets baseUrl={serve.baseUrl} model={models[0]?.name ?? 'MODEL_NAME'} apiKey={serve.settings?.apiKey} />
          </>
        )}
        {serve.state === 'ready' && serve.baseUrl && !serve.settings?.library && (
          <>
            <div className="stats">
              <Stat label="Endpoint" value={<code data-testid="endpoint-url">{serve.baseUrl}</code>} />
              <Stat label="Model name" value={<code>{serve.servedName}</code>} />
              <Stat label="Variant" value={serve.manifest?.dtype ?? '—'} />
              <Stat label="Weights" value={formatBytes(serve.manifest?.weightsBytes)} />
              <Stat label="Context" value={`${serve.config?.batching.maxTotalTokens ?? serve.manifest?.contextLength} tokens`} />
              <Stat label="KV cache" value={formatBytes(serve.config?.batching.kvCacheBytes)} />
            </div>
            <Snippets baseUrl={serve.baseUrl} model={serve.servedName ?? ''} apiKey={serve.settings?.apiKey} />
            <div className="row">
              <button type="button" onClick={() => go('playground')}>Open the playground</button>
              <button type="button" onClick={() => go('dashboard')}>Watch the dashboard</button>
            </div>
          </>
        )}
        <p className="muted small">Models live in {status.modelsDir}</p>
      </Card>

      {serve.state === 'ready' && serve.settings?.library && <LoadedModels />}
    </div>
  );
}

/** A library server's models: what is loaded (variant, memory, running requests), Unload, and Load by name. */
function LoadedModels() {
  const { client, dashboard } = useHost();
  // Refreshed with each dashboard tick (about 1 s), and at once after an action.
  const [version, setVersion] = useState(0);
  const served = useAsync(() => client.servedModels(), [client], `${dashboard?.timeMs}-${version}`);
  const [choice, setChoice] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const act = async (what: string, action: () => Promise<unknown>) => {
    setBusy(what);
    setError(null);
    try {
      await action();
    } catch (reason) {
      setError(reason);
    } finally {
      setBusy(null);
      setVersion((value) => value + 1);
    }
  };
  const data = served.data;
  const loaded = data?.models.filter((model) => model.state !== 'unloaded') ?? [];
  const unloaded = data?.models.filter((model) => model.state === 'unloaded') ?? [];
  return (
    <Card title="Loaded models" testId="serve-loaded-models">
      {data && (
        <div className="muted small" data-testid="serve-memory-used">
          {formatBytes(data.usedBytes)} of a {formatBytes(data.memoryBudgetBytes)} budget · {loaded.length} of at most {data.maxLoadedModels} loaded
        </div>
      )}
      {loaded.length === 0 ? (
        <Empty title="No model is loaded yet.">A request naming a model loads it; or load one below.</Empty>
      ) : (
        <table className="table compact">
          <thead><tr><th>Model</th><th>Variant</th><th>State</th><th>Memory</th><th>Running requests</th><th /></tr></thead>
          <tbody>
            {loaded.map((model) => (
              <tr key={model.id} data-testid={`loaded-${model.id}`}>
                <td>{model.name}{model.pinned ? ' (pinned)' : ''}</td>
                <td>{model.dtype}</td>
                <td>{model.state}</td>
                <td data-testid="loaded-memory">{formatBytes(model.memoryBytes)}</td>
                <td>{model.activeRequests}</td>
                <td>
                  <button type="button" className="danger" disabled={busy !== null || model.state !== 'ready'} onClick={() => act(`unload ${model.id}`, () => client.unloadServedModel(model.id))}>
                    {busy === `unload ${model.id}` ? 'Unloading…' : 'Unload'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="row" onSubmit={(event) => { event.preventDefault(); if (choice) void act(`load ${choice}`, () => client.loadServedModel(choice)); }}>
        <select value={choice} onChange={(event) => setChoice(event.target.value)} aria-label="Model to load" data-testid="serve-load-choice">
          <option value="">Load a model…</option>
          {unloaded.map((model) => <option key={model.id} value={model.id}>{model.id}</option>)}
        </select>
        <button type="submit" disabled={busy !== null || choice === ''} data-testid="serve-load">{busy?.startsWith('load') ? 'Loading…' : 'Load'}</button>
      </form>
      {error !== null && <ErrorBox error={error} />}
    </Card>
  );
}

function Snippets(target: { baseUrl: string; model: string; apiKey?: string }) {
  const [tab, setTab] = useState<'curl' | 'openai' | 'langchain'>('curl');
  const [copied, setCopied] = useState(false);
  const text = tab === 'curl' ? curlSnippet(target) : tab === 'openai' ? openaiSnippet(target) : langchainSnippet(target);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      setCopied(false);
    }
  };
  return (
    <div className="snippets">
      <div className="tabs">
        {(['curl', 'openai', 'langchain'] as const).map((name) => (
          <button key={name} type="button" className={name === tab ? 'tab active' : 'tab'} onClick={() => setTab(name)}>
            {name === 'curl' ? 'curl' : name === 'openai' ? 'OpenAI SDK' : 'LangChain'}
          </button>
        ))}
        <button type="button" className="copy" onClick={copy}>{copied ? 'Copied' : 'Copy'}</button>
      </div>
      <pre className="code" data-testid="snippet">{text}</pre>
    </div>
  );
}
