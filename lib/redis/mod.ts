/**
 * Redis for the programs: a client that finds dead connections by its own
 * ping and deadline, server-side scripts run by their hash, and Redis URLs.
 *
 * @module
 */
export * from "./client.ts";
export * from "./script.ts";
export * from "./url.ts";
