/**
 * Key types for CA roots (kept apart from ca.ts so the CLI can list them
 * without loading a certificate library).
 * @module
 */

/** Key types for CA roots. Workload keys are always ECDSA P-256. */
export const CA_KEY_TYPES = ["ec-p256", "rsa-2048", "rsa-3072", "rsa-4096"] as const;
/** One of {@linkcode CA_KEY_TYPES}. */
export type CaKeyType = typeof CA_KEY_TYPES[number];
