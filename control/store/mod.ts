/**
 * Configuration stores: one {@linkcode ConfigStore} interface, with a memory backend and a
 * file backend (a watched directory of Istio YAML).
 * @module
 */
export * from "./types.ts";
export { MemoryStore } from "./memory.ts";
export {
  DEBOUNCE_MS,
  filePathFor,
  FileStore,
  type FileStoreOptions,
  MAX_DEBOUNCE_MS,
} from "./file.ts";
export * from "./kinds.ts";
