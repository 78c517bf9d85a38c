// Types of scripts/build.mjs for the tests that import it (it stays plain JS: the image's build
// stage runs it with Node alone).
/** Output name (dist/<name>.mjs) → source entry, relative to the repo root. */
export declare const ENTRIES: Readonly<Record<'hearth' | 'hearth-serve' | 'engineHost' | 'runnerWorker', string>>;
/** The entries the production container needs (`--serving`). */
export declare const SERVING_ENTRIES: readonly string[];
/** Builds into outDir (emptied first); resolves to the source files bundled, relative to the repo root. */
export declare function build(options?: { outDir?: string; serving?: boolean }): Promise<string[]>;
