/**
 * Membership: who is in the roster, and in which order the roster changes.
 * The roster server talks only to a {@linkcode Membership}: either
 * {@linkcode LocalMembership} (one server alone) or the Redis cluster
 * (`cluster/mod.ts`), where every node sees the changes in one order. Only
 * the membership decides whether a name is taken.
 *
 * @module
 */
import { Refusal } from "./protocol.ts";
import { Roster } from "./roster.ts";

/** A change of the roster, in the order every node applies it. */
export interface MembershipChange {
  /**
   * A name joined or left, or (`sync`) the node replaced its view of the
   * roster with a fresh copy, after losing track of the order.
   */
  kind: "join" | "leave" | "sync";
  /** The name that joined or left; empty for `sync`. */
  name: string;
  /** How many names the roster holds after the change. */
  online: number;
  /** The roster line after the change, encoded once for every recipient. */
  line: Uint8Array;
}

/** What a membership tells the server, synchronously and in order. */
export interface MembershipListener {
  /**
   * `name`, asked for by {@linkcode Membership.join} on this server, is now
   * in the roster: its client gets this change and every later one.
   */
  admit(name: string): void;
  /** The roster changed; send `change.line` to every admitted client. */
  change(change: MembershipChange): void;
  /**
   * This server no longer holds `name` (it was cut off from the cluster for
   * too long, or the name was taken while Redis was down): send the client
   * `error: <reason>` and close it. The name is no longer this server's.
   */
  evict(name: string, reason: string): void;
}

/** The roster's membership, shared by one server or by a cluster. */
export interface Membership {
  /** Sets the one listener; call once, before the first join. */
  listen(listener: MembershipListener): void;
  /**
   * Says at once, without asking anyone, why `name` cannot join through this
   * server (it is joined or joining here), or `undefined` if it may try.
   */
  check(name: string): string | undefined;
  /**
   * Asks for `name` to join; refuses it while it is joined or joining
   * anywhere. Resolves to `undefined` once it has joined
   * (after {@linkcode MembershipListener.admit}), or to why it cannot.
   */
  join(name: string): Promise<string | undefined>;
  /** Removes `name`, which joined through this server. */
  leave(name: string): void;
  /** Gives up every name of this server at once and frees its resources. */
  close(): Promise<void>;
}

/** The membership of a server alone: a roster in memory, changed at once. */
export class LocalMembership implements Membership {
  readonly #roster = new Roster();
  #listener: MembershipListener | undefined;

  /** Sets the listener. */
  listen(listener: MembershipListener): void {
    this.#listener = listener;
  }

  /** Refuses `name` if it is in the roster. */
  check(name: string): string | undefined {
    return this.#roster.has(name) ? Refusal.nameTaken(name) : undefined;
  }

  /** Adds `name` at once, or refuses it if it is in the roster. */
  join(name: string): Promise<string | undefined> {
    if (!this.#roster.add(name)) {
      return Promise.resolve(Refusal.nameTaken(name));
    }
    this.#listener?.admit(name);
    this.#emit("join", name);
    return Promise.resolve(undefined);
  }

  /** Removes `name` at once. */
  leave(name: string): void {
    if (this.#roster.remove(name)) this.#emit("leave", name);
  }

  /** Nothing to free. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  #emit(kind: MembershipChange["kind"], name: string): void {
    this.#listener?.change({
      kind,
      name,
      online: this.#roster.size,
      line: this.#roster.line(),
    });
  }
}
