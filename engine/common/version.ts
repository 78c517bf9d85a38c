/** Version of Hearth, recorded in model manifests and exported bundles. */
export const HEARTH_VERSION = '0.1.0';
