// Runs an async loader and tracks loading / error / data, with a reload function. `deps` are what
// `load` reads (checked by ESLint like useEffect's); `reloadKey` reloads whenever it changes (a
// version counter, a state name) without being read by `load`.
import { useCallback, useEffect, useRef, useState } from 'react';

export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

export function useAsync<T>(load: () => Promise<T>, deps: readonly unknown[], reloadKey?: unknown): AsyncState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const call = ++latest.current;
    setLoading(true);
    load().then(
      (value) => {
        if (call !== latest.current) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (reason: unknown) => {
        if (call !== latest.current) return;
        setError(reason);
        setLoading(false);
      },
    );
    // `deps` is the caller's list for `load`: ESLint checks it at every call site (additionalHooks in eslint.config.mjs).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, reloadKey, generation]);
  const reload = useCallback(() => setGeneration((value) => value + 1), []);
  return { data, error, loading, reload };
}
