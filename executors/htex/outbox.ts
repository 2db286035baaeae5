/**
 * zeromq.js allows one send in flight per socket; an Outbox queues frames
 * and drains them in order, so callers never await a send and never collide.
 * @module
 */
import type { Writable } from "zeromq";

type Frames = (Buffer | Uint8Array | string)[];

/** Ordered, non-blocking sends on one socket. */
export class Outbox {
  readonly #sock: Writable;
  #queue: Frames[] = [];
  #draining = false;
  #onError: (e: unknown) => void;

  constructor(sock: Writable, onError: (e: unknown) => void) {
    this.#sock = sock;
    this.#onError = onError;
  }

  /** Resolves when every queued message has been handed to ZeroMQ. */
  async drained(): Promise<void> {
    while (this.#draining || this.#queue.length > 0) await new Promise((r) => setImmediate(r));
  }

  /** Queues one multipart message. */
  send(frames: Frames): void {
    this.#queue.push(frames);
    if (!this.#draining) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        for (const frames of batch) await this.#sock.send(frames);
      }
    } catch (e) {
      this.#onError(e);
    } finally {
      this.#draining = false;
    }
  }
}
