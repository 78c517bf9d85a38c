// Public surface of the Hub client and model library, for the CLI, the engine host (GUI) and
// `hearth serve`.
//
//   pullModel / pullModelEvents   download (resumable, verified, HF-cache aware) + convert, with PullEvents
//   searchModels                  Hub search shaped for the UI
//   checkFit / detectMemory       will it fit this machine (before download)
//   resolvePackage                library name or package path → package folder (for `hearth serve`)
//   markServing / servingProcesses  how serve marks a model as in use, so `hearth rm` refuses
export { pullModel, pullModelEvents, type PullOptions, type PullResult } from './pull.js';
export type { PullEvent, PullFileSummary } from '../common/pullEvents.js';
export { searchModels, type SearchOptions, type ModelSearchResult, type SearchSort } from './search.js';
export { checkFit, detectMemory, fetchConfig, type DetectedMemory, type FitCheckResult } from './fitCheck.js';
export { resolvePackage, markServing, servingProcesses, LibraryError } from './library.js';
export { hubSettings, HubError, type HubOptions, type HubSettings } from './hubSettings.js';
export { parseRepoRef, resolveRepo } from './repoFiles.js';
export { hfHubCacheDir, HfCacheRepo } from './hfCache.js';
