/**
 * The control plane: config ingest, snapshots, per-proxy generation and push.
 * @module
 */
export * from "./control.ts";
export * from "./config_dir.ts";
export * from "./snapshot.ts";
export * from "./generate.ts";
export * from "./push.ts";
