import type { ViewName } from '../App.js';

export interface ViewProps {
  go: (view: ViewName) => void;
}

/** The model the Models view asked the Serve view to preselect (kept across the view switch). */
export const PRESELECT_KEY = 'hearth.serve.preselect';

/** The model the Models view's Chat asked the playground to talk to, when the library is served. */
export const PLAYGROUND_MODEL_KEY = 'hearth.playground.model';
