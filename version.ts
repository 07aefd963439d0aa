/** mesh's version, printed by `mesh version`. */
export const VERSION = "0.1.0";
