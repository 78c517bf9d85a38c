// Export: the tuned serving config, a GPU sizing and cost table (GPU and price tables are
// editable), and the production bundle (compose, Kubernetes, Vertex AI) for the engine production
// runs: Hearth's own (Dockerfile), vLLM or TGI (their pinned images on the Hub checkpoint).
import { useEffect, useMemo, useState } from 'react';
import type { ExportBundleResponse, ExportDefaults, ExportEngine, GpuPrice, GpuSpec, SizingResponse } from '../../../engine/common/adminApi.js';
import type { ServingConfig } from '../../../engine/common/servingConfig.js';
import { Card, Empty, ErrorBox, Loading } from '../components/States.js';
import { GIB, formatBytes, formatUsd } from '../components/format.js';
import { useAsync } from '../components/useAsync.js';
import { useHost } from '../hostContext.js';
import type { ViewProps } from './viewProps.js';

interface GpuRow {
  name: string;
  memoryGb: number;
  usdPerHour: number | null;
}

function toRows(defaults: ExportDefaults): GpuRow[] {
  return defaults.gpus.map((gpu) => ({
    name: gpu.name,
    memoryGb: Math.round((gpu.memoryBytes / GIB) * 10) / 10,
    usdPerHour: defaults.prices.find((price) => price.gpu === gpu.name)?.usdPerHour ?? null,
  }));
}

function fromRows(rows: GpuRow[]): { gpus: GpuSpec[]; prices: GpuPrice[] } {
  const valid = rows.filter((row) => row.name.trim() !== '' && row.memoryGb > 0);
  return {
    gpus: valid.map((row) => ({ name: row.name.trim(), memoryBytes: Math.round(row.memoryGb * GIB) })),
    prices: valid.flatMap((row) => (row.usdPerHour === null ? [] : [{ gpu: row.name.trim(), usdPerHour: row.usdPerHour }])),
  };
}

export function ExportView({ go }: ViewProps) {
  const { client, serve } = useHost();
  const defaults = useAsync(() => client.exportDefaults(), [client], serve.state);
  return (
    <div className="view" data-testid="view-export">
      <h1>Export</h1>
      {defaults.loading && !defaults.data ? (
        <Loading what="export defaults" />
      ) : defaults.error ? (
        <ErrorBox error={defaults.error} onRetry={defaults.reload} />
      ) : defaults.data!.config === null && serve.state === 'ready' && serve.settings?.library ? (
        <LibraryExport defaults={defaults.data!} />
      ) : defaults.data!.config === null ? (
        <Empty title="No serving config to export yet.">
          Start serving a model (and tune it on the Benchmark tab); its config appears here.
          <div><button type="button" onClick={() => go('serve')}>Go to Serve</button></div>
        </Empty>
      ) : (
        <ExportForm defaults={defaults.data!} />
      )}
    </div>
  );
}

/** A library server has no one config: export one loaded model's (its package and the batching its engine resolved). */
function LibraryExport({ defaults }: { defaults: ExportDefaults }) {
  const { client, dashboard } = useHost();
  const loadedIds = (dashboard?.models ?? []).filter((model) => model.state === 'ready').map((model) => model.id);
  const [picked, setPicked] = useState('');
  const modelId = loadedIds.includes(picked) ? picked : (loadedIds[0] ?? '');
  const config = useAsync(async () => (modelId ? client.servedModelConfig(modelId) : null), [client, modelId]);
  return (
    <>
      <Card title="Model to export" testId="export-model">
        {loadedIds.length === 0 ? (
          <Empty title="No model of the library is loaded.">Load one on the Serve tab (or send it a request); its serving config is exported.</Empty>
        ) : (
          <label>
            Loaded model
            <select value={modelId} onChange={(event) => setPicked(event.target.value)} data-testid="export-model-choice">
              {loadedIds.map((id) => <option key={id} value={id}>{id}</option>)}
            </select>
          </label>
        )}
        {config.error !== undefined && <ErrorBox error={config.error} onRetry={config.reload} />}
      </Card>
      {config.data && <ExportForm key={modelId} defaults={{ ...defaults, config: config.data }} />}
    </>
  );
}

function ExportForm({ defaults }: { defaults: ExportDefaults }) {
  const { client } = useHost();
  const [configText, setConfigText] = useState(() => JSON.stringify(defaults.config, null, 2));
  const [rows, setRows] = useState<GpuRow[]>(() => toRows(defaults));
  const [targetRps, setTargetRps] = useState(1);
  const [sizing, setSizing] = useState<SizingResponse | null>(null);
  const [sizingError, setSizingError] = useState<unknown>(null);
  const [engine, setEngine] = useState<ExportEngine>('hearth');
  const [target, setTarget] = useState<'gpu' | 'cpu'>('gpu');
  const [bakeModel, setBakeModel] = useState(false);
  const [outDir, setOutDir] = useState(defaults.outDir);
  const [result, setResult] = useState<ExportBundleResponse | null>(null);
  const [exportError, setExportError] = useState<unknown>(null);
  const [exporting, setExporting] = useState(false);

  // Parsed once per edit, so effects that read it see a new object only when the text changed.
  const { config, configError } = useMemo((): { config: ServingConfig | null; configError: string | null } => {
    try {
      return { config: JSON.parse(configText) as ServingConfig, configError: null };
    } catch (error) {
      return { config: null, configError: `The config is not valid JSON: ${(error as Error).message}. Fix it, or reload the page to start again from the served config.` };
    }
  }, [configText]);

  useEffect(() => {
    if (!config) return;
    const timer = setTimeout(() => {
      client.sizing({ config, ...fromRows(rows), targetRequestsPerSec: targetRps }).then(
        (response) => {
          setSizing(response);
          setSizingError(null);
        },
        setSizingError,
      );
    }, 200);
    return () => clearTimeout(timer);
  }, [client, config, rows, targetRps]);

  const hearth = engine === 'hearth';
  const setRow = (index: number, change: Partial<GpuRow>) => setRows((all) => all.map((row, i) => (i === index ? { ...row, ...change } : row)));
  const doExport = async () => {
    if (!config) return;
    setExporting(true);
    setExportError(null);
    try {
      setResult(await client.exportBundle({ config, outDir, engine, target: hearth ? target : 'gpu', bakeModel, ...fromRows(rows) }));
    } catch (error) {
      setExportError(error);
    } finally {
      setExporting(false);
    }
  };

  return (
    <>
      <div className="grid-2">
        <Card title="Tuned serving config" testId="export-config">
          {config?.tuning ? (
            <div className="muted small">Auto-tuned for {JSON.stringify(config.tuning.objective)} on {config.tuning.machine}: {Math.round(config.tuning.throughputTokensPerSec)} tok/s</div>
          ) : (
            <div className="muted small">Settings of the served model (not auto-tuned; run <code>hearth tune</code> to tune against a latency objective).</div>
          )}
          <label className="inline">
            Load a tuned.json (from <code>hearth tune</code>)
            <input
              type="file"
              accept=".json,application/json"
              onChange={(event) => {
                const file = event.target.files?.[0];
                if (file) void file.text().then(setConfigText);
              }}
            />
          </label>
          <textarea className="code" rows={16} value={configText} onChange={(event) => setConfigText(event.target.value)} spellCheck={false} aria-label="Serving config JSON" />
          {configError && <ErrorBox error={new Error(configError)} />}
        </Card>
        <Card title="GPUs and prices (editable)" testId="export-gpus">
          <table className="table compact editable">
            <thead><tr><th>GPU</th><th>Memory (GiB)</th><th>$/hour</th><th /></tr></thead>
            <tbody>
              {rows.map((row, index) => (
                <tr key={index}>
                  <td><input value={row.name} onChange={(event) => setRow(index, { name: event.target.value })} aria-label="GPU name" /></td>
                  <td><input type="number" min={1} step={1} value={row.memoryGb} onChange={(event) => setRow(index, { memoryGb: Number(event.target.value) })} aria-label="GPU memory GiB" /></td>
                  <td><input type="number" min={0} step={0.01} value={row.usdPerHour ?? ''} onChange={(event) => setRow(index, { usdPerHour: event.target.value === '' ? null : Number(event.target.value) })} aria-label="Price per hour" /></td>
                  <td><button type="button" className="chip-x" onClick={() => setRows((all) => all.filter((_, i) => i !== index))} aria-label="Remove GPU">×</button></td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="row">
            <button type="button" onClick={() => setRows((all) => [...all, { name: 'Custom GPU', memoryGb: 24, usdPerHour: 1 }])}>Add GPU</button>
            <button type="button" onClick={() => setRows(toRows(defaults))}>Reset to list prices</button>
          </div>
          <label className="inline">Target request rate (req/s) <input type="number" min={0.01} step={0.1} value={targetRps} onChange={(event) => setTargetRps(Number(event.target.value))} /></label>
        </Card>
      </div>
      <Card title="GPU sizing" testId="export-sizing">
        {sizingError !== null ? (
          <ErrorBox error={sizingError} />
        ) : sizing === null ? (
          <Loading what="the sizing" />
        ) : (
          <>
            <table className="table" data-testid="sizing-table">
              <thead><tr><th>GPU</th><th>Memory</th><th>Weights</th><th>KV cache</th><th>Overhead</th><th>Needs</th><th>Fits</th><th>Max concurrency</th><th>Replicas</th><th>$/month</th></tr></thead>
              <tbody>
                {sizing.rows.map((row) => (
                  <tr key={row.gpu} className={row.fits ? 'fit-row' : 'nofit-row'}>
                    <td><strong>{row.gpu}</strong></td>
                    <td>{formatBytes(row.memoryBytes)}</td>
                    <td>{formatBytes(row.weightsBytes)}</td>
                    <td>{formatBytes(row.kvCacheBytes)}</td>
                    <td>{formatBytes(row.overheadBytes)}</td>
                    <td>{formatBytes(row.requiredBytes)}</td>
                    <td>{row.fits ? '✓ fits' : '✗ too small'}</td>
                    <td>{row.maxConcurrency}</td>
                    <td>{row.replicas ?? '—'}</td>
                    <td>{formatUsd(row.usdPerMonth)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {sizing.notes.length > 0 && <ul className="notes">{sizing.notes.map((note) => <li key={note}>{note}</li>)}</ul>}
          </>
        )}
      </Card>
      <Card title="Production bundle" testId="export-bundle">
        <form className="form-grid" onSubmit={(event) => { event.preventDefault(); void doExport(); }}>
          <fieldset className="wide engine-choice" data-testid="export-engine">
            <legend>Engine in production</legend>
            {defaults.engines.map((choice) => (
              <label key={choice.name} className="radio">
                <input type="radio" name="engine" value={choice.name} checked={engine === choice.name} onChange={() => { setEngine(choice.name); setResult(null); setExportError(null); }} data-testid={`export-engine-${choice.name}`} />
                {choice.label}
              </label>
            ))}
            <div className="muted small" data-testid="export-engine-note">
              {engine === 'hearth' && 'The bundle builds an image of this engine with the tuned config and the model package.'}
              {engine === 'vllm' && "vLLM serves the model's original Hub checkpoint at the commit Hearth pulled, with the tuned settings as its flags (fp16 or fp32 packages, GPU only)."}
              {engine === 'tgi' && 'TGI serves the Hub checkpoint with the tuned settings as its launcher flags (fp16 packages, GPU only). TGI is in maintenance mode: its maintainers recommend vLLM for new deployments.'}
            </div>
          </fieldset>
          <label>Target
            <select value={hearth ? target : 'gpu'} disabled={!hearth} onChange={(event) => setTarget(event.target.value as 'gpu' | 'cpu')}>
              <option value="gpu">GPU (CUDA runtime image)</option>
              <option value="cpu">CPU only</option>
            </select>
          </label>
          {hearth && <label className="checkbox"><input type="checkbox" checked={bakeModel} onChange={(event) => setBakeModel(event.target.checked)} /> Bake the model into the image (otherwise mount it from a volume)</label>}
          <label className="wide">Output folder<input value={outDir} onChange={(event) => setOutDir(event.target.value)} data-testid="export-outdir" /></label>
          <div className="form-actions">
            <button type="submit" className="primary" disabled={exporting || config === null} data-testid="export-run">{exporting ? 'Exporting…' : 'Export bundle'}</button>
          </div>
        </form>
        {exportError !== null && <ErrorBox error={exportError} />}
        {result && (
          <div className="export-result" data-testid="export-result">
            <div>Bundle for <strong data-testid="export-result-engine">{result.engine}</strong> written to <code data-testid="export-location">{result.outDir}</code></div>
            <div className="muted small">Image: <code data-testid="export-image">{result.image}</code></div>
            <ul className="file-list">{result.files.map((file) => <li key={file}><code>{file}</code></li>)}</ul>
            <div className="muted small">Next: <code>{result.next}</code> — the bundle's README.md says how to run, scale, deploy and benchmark it.</div>
          </div>
        )}
      </Card>
    </>
  );
}
