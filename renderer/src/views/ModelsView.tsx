// Models: search the Hub, check whether a model fits before downloading, follow downloads and
// conversions, and manage the local library.
import { useState } from 'react';
import type { FitVerdict, HubModelSummary, LibraryModel } from '../../../engine/common/adminApi.js';
import { MODEL_DTYPES, type ModelDtype } from '../../../engine/common/manifest.js';
import { Card, Empty, ErrorBox, Loading, ProgressBar } from '../components/States.js';
import { formatBytes, formatCount } from '../components/format.js';
import { useAsync } from '../components/useAsync.js';
import { desktopApi } from '../api/hostInfo.js';
import { useHost } from '../hostContext.js';
import { serveForChat } from './ServeView.js';
import { PLAYGROUND_MODEL_KEY, PRESELECT_KEY, type ViewProps } from './viewProps.js';

export function ModelsView({ go }: ViewProps) {
  const { client, pulls } = useHost();
  const doneCount = Object.values(pulls).filter((pull) => pull.phase === 'done').length;
  const library = useAsync(() => client.library(), [client], doneCount);
  const activePulls = Object.values(pulls);

  return (
    <div className="view" data-testid="view-models">
      <h1>Models</h1>
      <HubSearch />
      <ImportLocal />
      {activePulls.length > 0 && (
        <Card title="Downloads" testId="downloads">
          <ul className="pull-list">
            {activePulls.map((pull) => (
              <li key={pull.jobId}>
                <div className="row-between">
                  <strong>{pull.repo}</strong>
                  <span>
                    {!['done', 'failed', 'cancelled'].includes(pull.phase) && (
                      <button type="button" className="link small" onClick={() => void client.cancelPull(pull.jobId)} data-testid="pull-cancel" title="Stop; downloading again resumes from the bytes on disk">Cancel</button>
                    )}{' '}
                    <span className={`badge badge-${pull.phase}`}>{pull.phase}</span>
                  </span>
                </div>
                <ProgressBar fraction={pull.phase === 'done' ? 1 : pull.fraction} label={`${pull.repo} ${pull.phase}`} />
                <div className="muted small">
                  {pull.phase === 'downloading' && `${formatBytes(pull.bytesDone)} of ${formatBytes(pull.bytesTotal)} `}
                  {pull.detail}
                  {pull.error && <span className="error-text"> {pull.error}</span>}
                </div>
              </li>
            ))}
          </ul>
        </Card>
      )}
      <Card title="Library" actions={<button type="button" onClick={library.reload}>Refresh</button>} testId="library">
        {library.loading && !library.data ? (
          <Loading what="the library" />
        ) : library.error ? (
          <ErrorBox error={library.error} onRetry={library.reload} />
        ) : library.data!.models.length === 0 ? (
          <Empty title="No models yet.">Search the Hub above and download one, or import a checkpoint folder from this machine.</Empty>
        ) : (
          <LibraryTable models={library.data!.models} onChanged={library.reload} onServe={(name) => { sessionStorage.setItem(PRESELECT_KEY, name); go('serve'); }} onChat={() => go('playground')} />
        )}
      </Card>
    </div>
  );
}

function LibraryTable({ models, onChanged, onServe, onChat }: { models: LibraryModel[]; onChanged: () => void; onServe: (name: string) => void; onChat: (name: string) => void }) {
  const { client, serve, setServe } = useHost();
  const [error, setError] = useState<unknown>(null);
  const remove = async (name: string, dtype?: ModelDtype) => {
    if (!confirm(`Delete ${name}${dtype ? ` (${dtype})` : ''} from disk?`)) return;
    try {
      await client.deleteModel(name, dtype);
      setError(null);
      onChanged();
    } catch (reason) {
      setError(reason);
    }
  };
  // One click to a conversation: serve the model (with the Serve view's last settings) unless it
  // is the one served, and open the playground, whose input takes the focus once it is ready.
  const chat = async (name: string) => {
    // A library server serves it already, by name: the playground picks it.
    if (serve.state === 'ready' && serve.settings?.library) sessionStorage.setItem(PLAYGROUND_MODEL_KEY, name);
    onChat(name);
    try {
      setServe(await serveForChat({ client, serve }, name));
    } catch (reason) {
      setError(reason);
    }
  };
  return (
    <>
      {error !== null && <ErrorBox error={error} />}
      <table className="table">
        <thead>
          <tr><th>Model</th><th>Variants</th><th>Size on disk</th><th /></tr>
        </thead>
        <tbody>
          {models.map((model) => (
            <tr key={model.name}>
              <td>
                <strong>{model.name}</strong>
                {model.repo && <div className="muted small">{model.repo}</div>}
                {model.sourceDir && <div className="muted small" data-testid={`library-source-${model.name}`}>imported from {model.sourceDir}</div>}
              </td>
              <td>
                {model.variants.map((variant) => (
                  <span key={variant.dtype} className="chip" title={variant.packageDir}>
                    {variant.dtype} · {formatBytes(variant.bytesOnDisk)} · {variant.contextLength} ctx
                    {/* The last variant goes with the model (the Delete button), so it has no × of its own. */}
                    {model.variants.length > 1 && (
                      <button type="button" className="chip-x" aria-label={`Delete ${variant.dtype}`} title={`Delete the ${variant.dtype} variant only`} onClick={() => remove(model.name, variant.dtype)}>×</button>
                    )}
                  </span>
                ))}
              </td>
              <td>{formatBytes(model.totalBytes)}</td>
              <td className="actions">
                <button type="button" className="primary" data-testid={`chat-with-${model.name}`} onClick={() => void chat(model.name)}>Chat</button>
                <button type="button" onClick={() => onServe(model.name)}>Serve</button>
                <button type="button" className="danger" onClick={() => remove(model.name)}>Delete</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** A checkpoint folder on this machine (the model just fine-tuned) into the library, as `hearth import` does. */
function ImportLocal() {
  const { client } = useHost();
  const [path, setPath] = useState('');
  const [name, setName] = useState('');
  const [dtype, setDtype] = useState<ModelDtype>('int4');
  const [error, setError] = useState<unknown>(null);
  // Inside the desktop app the OS's folder picker fills the field; a browser can't give a page a path.
  const desktop = desktopApi();
  const browse = async () => {
    try {
      const picked = await desktop!.pickFolder({ title: 'Import local checkpoint', buttonLabel: 'Import' });
      if (picked !== null) setPath(picked);
    } catch (reason) {
      setError(reason);
    }
  };
  const start = async (event: React.FormEvent) => {
    event.preventDefault();
    try {
      await client.importModel({ path: path.trim(), dtype, name: name.trim() || undefined });
      setError(null);
      setPath('');
      setName('');
    } catch (reason) {
      setError(reason);
    }
  };
  return (
    <Card title="Import local checkpoint" testId="import-local">
      <form className="row" onSubmit={start}>
        <label className="grow">
          Checkpoint folder
          <input data-testid="import-path" value={path} onChange={(event) => setPath(event.target.value)} placeholder="/home/me/finetunes/my-model (config.json, *.safetensors, tokenizer.json)" />
        </label>
        {desktop && <button type="button" onClick={() => void browse()} data-testid="import-browse">Browse…</button>}
        <label>
          Name
          <input data-testid="import-name" value={name} onChange={(event) => setName(event.target.value)} placeholder="the folder's name" />
        </label>
        <label>
          Precision
          <select data-testid="import-dtype" value={dtype} onChange={(event) => setDtype(event.target.value as ModelDtype)}>
            {MODEL_DTYPES.map((option) => <option key={option} value={option}>{option}</option>)}
          </select>
        </label>
        <button type="submit" data-testid="import-run" disabled={path.trim() === ''}>Import</button>
      </form>
      {error !== null && <ErrorBox error={error} />}
    </Card>
  );
}

function HubSearch() {
  const { client } = useHost();
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<HubModelSummary[] | null>(null);
  const [searching, setSearching] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const search = async () => {
    setSearching(true);
    setError(null);
    try {
      setResults((await client.searchHub(query)).results);
    } catch (reason) {
      setError(reason);
    } finally {
      setSearching(false);
    }
  };
  return (
    <Card title="Find a model on the Hugging Face Hub" testId="hub-search">
      <form className="row" onSubmit={(event) => { event.preventDefault(); void search(); }}>
        <input value={query} onChange={(event) => setQuery(event.target.value)} placeholder="e.g. SmolLM2 instruct, Qwen2.5 0.5B" aria-label="Search the Hub" />
        <button type="submit" disabled={searching}>{searching ? 'Searching…' : 'Search'}</button>
      </form>
      {error !== null && <ErrorBox error={error} onRetry={search} />}
      {results !== null && results.length === 0 && <Empty title={`No text-generation models match “${query}”.`}>Try a shorter name or an organisation, e.g. “Qwen”.</Empty>}
      {results !== null && results.length > 0 && (
        <table className="table">
          <thead><tr><th>Repo</th><th>Architecture</th><th>Params</th><th>Downloads</th><th>Fit and download</th></tr></thead>
          <tbody>{results.map((result) => <HubRow key={result.repo} model={result} />)}</tbody>
        </table>
      )}
    </Card>
  );
}

function HubRow({ model }: { model: HubModelSummary }) {
  const { client } = useHost();
  const [dtype, setDtype] = useState<ModelDtype>('int4');
  const [fit, setFit] = useState<FitVerdict | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const check = async () => {
    setBusy(true);
    setError(null);
    try {
      setFit(await client.fit(model.repo, dtype));
    } catch (reason) {
      setError(reason);
    } finally {
      setBusy(false);
    }
  };
  const pull = async () => {
    setError(null);
    try {
      await client.pull({ repo: model.repo, dtype });
    } catch (reason) {
      setError(reason);
    }
  };
  return (
    <tr>
      <td><strong>{model.repo}</strong></td>
      <td>{model.architecture ?? '—'}{!model.supported && <div className="error-text small">{model.unsupportedReason ?? 'not supported'}</div>}</td>
      <td>{formatCount(model.numParams)}</td>
      <td>{model.downloads?.toLocaleString() ?? '—'}</td>
      <td>
        <div className="row">
          <select value={dtype} onChange={(event) => { setDtype(event.target.value as ModelDtype); setFit(null); }} aria-label="Variant">
            {MODEL_DTYPES.map((d) => <option key={d} value={d}>{d}</option>)}
          </select>
          <button type="button" onClick={check} disabled={busy || !model.supported}>Check fit</button>
          <button type="button" onClick={pull} disabled={!model.supported || fit?.verdict === 'too-big'}>Download</button>
        </div>
        {fit && (
          <div className={`fit fit-${fit.verdict}`}>
            <strong>{fit.verdict}</strong> — {fit.summary} <span className="muted small">({fit.memorySource === 'nvidia-smi' ? 'GPU memory' : 'system memory'})</span>
          </div>
        )}
        {error !== null && <ErrorBox error={error} />}
      </td>
    </tr>
  );
}
